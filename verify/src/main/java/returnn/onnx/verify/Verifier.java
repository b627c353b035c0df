package returnn.onnx.verify;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Value;
import returnn.onnx.io.OnnxReader;
import returnn.onnx.tf.savedmodel.TensorTypes;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.rewrite.state.StateMapping;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.GraphReader;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.tf.TfModel;
import returnn.onnx.tf.TfTensors;
import org.tensorflow.proto.NodeDef;

/**
 * Runs the original graph in TensorFlow and the converted model in ONNX Runtime on the same inputs and compares
 * every output.
 */
public final class Verifier {
  /**
   * @param outputs TF output names; empty: every output of the ONNX model
   * @param feeds given inputs by ONNX input name; missing inputs are generated
   * @param inputShapes shapes of generated inputs by TF tensor or ONNX input name (-1 = batch or time), as
   *     convert's {@code --inputs}; others come from TF's placeholder shape, completed by the ONNX model's declared
   *     input shape where TF's is unknown
   */
  public record Options(Path graph, Path checkpoint, Path onnx, List<String> outputs, Map<String, Tensor> feeds,
      long seed, int batch, int time, double tolerance, Map<String, long[]> inputShapes) {
    public Options {
      inputShapes = inputShapes == null ? Map.of() : Map.copyOf(inputShapes);
    }

    public Options(Path graph, Path checkpoint, Path onnx, List<String> outputs, Map<String, Tensor> feeds,
        long seed, int batch, int time, double tolerance) {
      this(graph, checkpoint, onnx, outputs, feeds, seed, batch, time, tolerance, Map.of());
    }

    public static Options of(Path graph, Path checkpoint, Path onnx) {
      return new Options(graph, checkpoint, onnx, List.of(), Map.of(), 42, 3, 11, 1e-5);
    }
  }

  /**
   * @param allowNonFinite whether a float output that is NaN or infinite everywhere may pass (when TF agrees); by
   *     default it fails: such an output compares with "max abs 0" and would otherwise look perfect
   */
  public record Report(List<Comparison> comparisons, Map<String, DType> dtypes, Map<String, String> inputs, double tolerance,
      boolean allowNonFinite) {
    public Report(List<Comparison> comparisons, Map<String, DType> dtypes, Map<String, String> inputs, double tolerance) {
      this(comparisons, dtypes, inputs, tolerance, false);
    }

    public Report allowingNonFinite(boolean allow) {
      return new Report(comparisons, dtypes, inputs, tolerance, allow);
    }

    private boolean ok(Comparison c) {
      DType t = dtypes.get(c.name());
      return c.ok(tolerance, t) && (allowNonFinite || t == null || !t.isFloating() || !c.allNonFinite());
    }

    public boolean ok() {
      for (Comparison c : comparisons) if (!ok(c)) return false;
      return !comparisons.isEmpty();
    }

    public String format() {
      StringBuilder sb = new StringBuilder("inputs:\n");
      inputs.forEach((k, v) -> sb.append("  ").append(k).append(' ').append(v).append('\n'));
      sb.append("outputs (TensorFlow vs ONNX Runtime, tolerance ").append(tolerance).append(" abs; integers exact):\n");
      for (Comparison c : comparisons) {
        sb.append(ok(c) ? "  OK   " : "  FAIL ").append(c).append('\n');
      }
      for (Comparison c : comparisons) {
        DType t = dtypes.get(c.name());
        if (t != null && t.isFloating() && c.allNonFinite()) {
          sb.append("warning: output ").append(c.name()).append(" is NaN or infinite everywhere (").append(c.count())
              .append(" values)").append(allowNonFinite ? "; allowed by --allow-non-finite\n" : "; this fails verify (--allow-non-finite to accept)\n");
        }
      }
      sb.append(ok() ? "verify: PASS\n" : "verify: FAIL\n");
      return sb.toString();
    }
  }

  private Verifier() {}

  public static Report verify(Options o) {
    TfModel model = GraphReader.read(o.graph());
    Path ckpt = o.checkpoint() != null ? o.checkpoint() : model.variablesPrefix();
    try (OnnxSession ort = OnnxSession.open(o.onnx(), OnnxSession.Options.defaults())) {
      StateMapping states = StateFeeds.of(ort.metadata());
      List<String> onnxOutputs = o.outputs().isEmpty() ? StateFeeds.comparable(ort.outputNames(), states)
          : o.outputs().stream().map(n -> TensorRef.parse(n).onnxName()).toList();
      Map<String, NodeDef> nodes = new LinkedHashMap<>();
      for (NodeDef n : model.graph().getNodeList()) nodes.put(n.getName(), n);
      Map<TensorRef, long[]> overrides = new LinkedHashMap<>();
      o.inputShapes().forEach((k, v) -> overrides.put(TensorRef.parse(k), v));
      Map<String, Value> declared = new LinkedHashMap<>();
      for (Value v : OnnxReader.read(o.onnx()).graph().inputs()) declared.put(v.name(), v);
      List<InputGenerator.Spec> specs = new ArrayList<>();
      Map<String, Tensor> feeds = new LinkedHashMap<>();
      for (String in : ort.inputNames()) {
        Tensor given = o.feeds().get(in);
        if (given != null) {
          feeds.put(in, given);
          continue;
        }
        if (StateFeeds.isState(in, states)) continue; // fresh states below
        TensorRef ref = TensorRef.parse(in);
        NodeDef p = nodes.get(ref.node());
        if (p == null) throw new ConversionException(o.onnx() + ": model input '" + in + "' is no tensor of " + o.graph());
        Value onnxInput = declared.get(in);
        boolean placeholder = p.getOp().startsWith("Placeholder") && ref.index() == 0;
        if (!placeholder && onnxInput == null) {
          throw new ConversionException(o.onnx() + ": model input '" + in + "' is not declared in the model's graph");
        }
        // A placeholder: TF's dtype and shape. Another tensor (convert --inputs cut the graph there): the model's.
        DType dt = placeholder ? TfTensors.dtype(p.getAttrOrThrow("dtype").getType().getNumber(), in)
            : onnxInput.dtype();
        Shape tfShape = placeholder ? TfTensors.placeholderShape(p, model.graph().getVersions().getProducer())
            : TfTensors.shape(TensorTypes.shape(p, ref.index()));
        long[] override = overrides.remove(ref);
        Shape shape = override != null ? Shape.of(override) : completed(tfShape, onnxInput == null ? null : onnxInput.shape());
        if (!shape.hasRank()) {
          throw new ConversionException(o.graph() + ": input '" + in + "' has unknown rank in TensorFlow and in the model; "
              + "give its shape with --inputs " + in + ":d0xd1x... (-1 = batch/time)");
        }
        specs.add(new InputGenerator.Spec(in, dt, shape, Vocabulary.boundFor(model.graph(), p.getName())));
      }
      if (!overrides.isEmpty()) {
        throw new ConversionException(o.onnx() + ": --inputs names " + overrides.keySet().stream().map(TensorRef::onnxName)
            .toList() + ", not inputs of the model (inputs: " + String.join(", ", ort.inputNames()) + ")");
      }
      feeds.putAll(new InputGenerator(o.seed(), o.batch(), o.time()).generate(specs));
      Map<String, Tensor> ortFeeds = StateFeeds.withFreshStates(feeds, states, true);
      ortFeeds.keySet().retainAll(ort.inputNames()); // inputs with a default (--state-defaults) cannot be fed
      Map<String, Tensor> onnxOut = ort.run(ortFeeds, onnxOutputs);
      List<String> tfFetches = onnxOutputs.stream().map(n -> TensorRef.parse(n).toString()).toList();
      Map<String, Tensor> tfOut = TfReference.run(model.graph(), ckpt, StateFeeds.withFreshStates(feeds, states), tfFetches);
      List<Comparison> cmp = new ArrayList<>();
      Map<String, DType> dtypes = new LinkedHashMap<>();
      for (int i = 0; i < onnxOutputs.size(); i++) {
        String name = onnxOutputs.get(i);
        Tensor expected = tfOut.get(tfFetches.get(i));
        cmp.add(Comparison.of(name, expected, onnxOut.get(name)));
        dtypes.put(name, expected.dtype());
      }
      Map<String, String> desc = new LinkedHashMap<>();
      feeds.forEach((k, v) -> desc.put(k, describe(v)));
      return new Report(cmp, dtypes, desc, o.tolerance());
    }
  }

  /**
   * TF's shape with what the model declares filled in: the model's shape where TF's rank is unknown, and per dim the
   * model's where TF's dim is unknown (the model's may be fixed, e.g. by convert --inputs, or named).
   */
  static Shape completed(Shape tf, Shape onnx) {
    if (onnx == null || !onnx.hasRank()) return tf;
    if (!tf.hasRank() || tf.rank() != onnx.rank()) return tf.hasRank() ? tf : onnx;
    List<Dim> dims = new ArrayList<>();
    for (int i = 0; i < tf.rank(); i++) dims.add(tf.dim(i).isFixed() || !onnx.dim(i).isFixed() ? tf.dim(i) : onnx.dim(i));
    return Shape.of(dims);
  }

  static String describe(Tensor t) {
    String s = t.dtype().lower() + java.util.Arrays.toString(t.shape());
    if (!t.dtype().isFloating() && t.size() <= 8) s += " = " + java.util.Arrays.toString(t.toLongs());
    return s;
  }
}
