package returnn.onnx;

import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import returnn.onnx.convert.OpHandler;
import returnn.onnx.quantize.QuantizeOptions;
import returnn.onnx.rewrite.Rule;

/**
 * What to convert and how.
 *
 * @param graph graph file ({@code .pb}, {@code .pbtxt}, {@code .meta}, {@code .metatxt}) or SavedModel directory
 * @param checkpoint V2 checkpoint prefix, or null (a SavedModel brings its own)
 * @param outputs TF tensor names to output; empty means RETURNN's default {@code output/output_batch_major}
 * @param opset target ai.onnx opset, 13 to 23
 * @param inputShapes placeholder shape overrides by TF name (-1 = dynamic)
 * @param fuse run fusion rules (false: plain conversion, for comparison and debugging)
 * @param state every recurrent state as a model input and output, paired in the metadata (for streaming)
 * @param stateDefaults with {@code state}: give each state input an initializer default (the fresh state), which ONNX
 *     Runtime then hides from its input lists; without it state inputs are plain inputs and a fresh state is zeros
 * @param logSoftmaxOutput a Softmax that computes a network output directly becomes LogSoftmax
 * @param ortMinor the oldest ONNX Runtime 1.x the model must run in (its minor version, at least
 *     {@link #MIN_ORT_MINOR}); below 16, fused attention avoids what ONNX Runtime 1.15 lacks or computes wrongly
 * @param quantize quantize the weights after conversion (and record it in the metadata), or null for fp32
 * @param handlers handlers for TF op types registered over the built-in ones ({@link returnn.onnx.convert.HandlerRegistry})
 * @param tfRules user rewrite rules over the TF-level graph (before legalization), run before the built-in ones in
 *     the same fixed-point phase ({@link returnn.onnx.rewrite.Pipeline})
 * @param onnxRules user rewrite rules over the ONNX graph (after legalization), run after the built-in fusions and
 *     before the cleanups, in the same fixed-point phase
 */
public record ConvertOptions(
    Path graph, Path checkpoint, List<String> outputs, int opset, Map<String, long[]> inputShapes, boolean fuse,
    boolean state, boolean stateDefaults, boolean logSoftmaxOutput, int ortMinor, QuantizeOptions quantize,
    Map<String, OpHandler> handlers, List<Rule> tfRules, List<Rule> onnxRules) {
  public static final int DEFAULT_OPSET = 17;
  public static final int MIN_OPSET = 13;
  public static final int MAX_OPSET = 23;
  public static final String DEFAULT_OUTPUT = "output/output_batch_major";
  /** ONNX Runtime 1.15, the oldest RASR's images link: the default floor. */
  public static final int MIN_ORT_MINOR = 15;

  public ConvertOptions {
    outputs = outputs == null ? List.of() : List.copyOf(outputs);
    inputShapes = inputShapes == null ? Map.of() : Map.copyOf(inputShapes);
    handlers = handlers == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(handlers));
    tfRules = tfRules == null ? List.of() : List.copyOf(tfRules);
    onnxRules = onnxRules == null ? List.of() : List.copyOf(onnxRules);
    if (opset < MIN_OPSET || opset > MAX_OPSET) {
      throw new ConversionException("opset " + opset + " is not supported (choose " + MIN_OPSET + " to " + MAX_OPSET + ")");
    }
    if (ortMinor < MIN_ORT_MINOR) {
      throw new ConversionException("ONNX Runtime 1." + ortMinor + " is not supported (the oldest is 1." + MIN_ORT_MINOR + ")");
    }
  }

  /**
   * The defaults (opset 17, fused, no state, ONNX Runtime 1.15, not quantized); the named options are set with the
   * {@code with...} methods, or through the public builder {@code returnn.onnx.api.ReturnnOnnx.convert(graph)}.
   */
  public static ConvertOptions of(Path graph, Path checkpoint, List<String> outputs) {
    return new ConvertOptions(graph, checkpoint, outputs, DEFAULT_OPSET, Map.of(), true, false, false, false, MIN_ORT_MINOR,
        null, Map.of(), List.of(), List.of());
  }

  public ConvertOptions withOutputs(List<String> l) {
    return new ConvertOptions(graph, checkpoint, l, opset, inputShapes, fuse, state, stateDefaults, logSoftmaxOutput, ortMinor,
        quantize, handlers, tfRules, onnxRules);
  }

  public ConvertOptions withOpset(int o) {
    return new ConvertOptions(graph, checkpoint, outputs, o, inputShapes, fuse, state, stateDefaults, logSoftmaxOutput, ortMinor,
        quantize, handlers, tfRules, onnxRules);
  }

  public ConvertOptions withFuse(boolean f) {
    return new ConvertOptions(graph, checkpoint, outputs, opset, inputShapes, f, state, stateDefaults, logSoftmaxOutput, ortMinor,
        quantize, handlers, tfRules, onnxRules);
  }

  public ConvertOptions withInputShapes(Map<String, long[]> s) {
    return new ConvertOptions(graph, checkpoint, outputs, opset, s, fuse, state, stateDefaults, logSoftmaxOutput, ortMinor,
        quantize, handlers, tfRules, onnxRules);
  }

  public ConvertOptions withState(boolean s, boolean defaults) {
    return new ConvertOptions(graph, checkpoint, outputs, opset, inputShapes, fuse, s, defaults, logSoftmaxOutput, ortMinor,
        quantize, handlers, tfRules, onnxRules);
  }

  public ConvertOptions withLogSoftmaxOutput(boolean l) {
    return new ConvertOptions(graph, checkpoint, outputs, opset, inputShapes, fuse, state, stateDefaults, l, ortMinor,
        quantize, handlers, tfRules, onnxRules);
  }

  public ConvertOptions withOrtMinor(int m) {
    return new ConvertOptions(graph, checkpoint, outputs, opset, inputShapes, fuse, state, stateDefaults, logSoftmaxOutput, m,
        quantize, handlers, tfRules, onnxRules);
  }

  /** Quantize the converted model's weights ({@code null}: keep fp32). */
  public ConvertOptions withQuantize(QuantizeOptions q) {
    return new ConvertOptions(graph, checkpoint, outputs, opset, inputShapes, fuse, state, stateDefaults, logSoftmaxOutput, ortMinor,
        q, handlers, tfRules, onnxRules);
  }

  /** Handlers for TF op types, registered over the built-in ones (a custom op, or a replacement). */
  public ConvertOptions withHandlers(Map<String, OpHandler> h) {
    return new ConvertOptions(graph, checkpoint, outputs, opset, inputShapes, fuse, state, stateDefaults, logSoftmaxOutput, ortMinor,
        quantize, h, tfRules, onnxRules);
  }

  /** User rewrite rules: {@code tf} over the TF-level graph, {@code onnx} over the ONNX graph (see the record's doc). */
  public ConvertOptions withRules(List<Rule> tf, List<Rule> onnx) {
    return new ConvertOptions(graph, checkpoint, outputs, opset, inputShapes, fuse, state, stateDefaults, logSoftmaxOutput, ortMinor,
        quantize, handlers, tf, onnx);
  }

  /** The minor version of an ONNX Runtime version {@code 1.N} or {@code 1.N.P}. */
  public static int parseOrtVersion(String v) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("1\\.(\\d+)(\\.\\d+)?").matcher(v.trim());
    if (!m.matches()) throw new ConversionException("--ort-version '" + v + "' is not an ONNX Runtime version such as 1.15 or 1.20.1");
    return Integer.parseInt(m.group(1));
  }
}
