package returnn.onnx.api;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ConversionException;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.convert.OpHandler;
import returnn.onnx.quantize.QuantizeOptions;
import returnn.onnx.rewrite.Rule;

/**
 * What to convert and how: a builder started by {@link ReturnnOnnx#convert(Path)}, run by {@link #run()}. Every
 * setting has the default of the {@code convert} command and matches one of its flags. A builder is not thread-safe;
 * {@link #run()} may be called more than once (each run reads the files again).
 */
public final class Conversion {
  private final Path graph;
  private Path checkpoint;
  private final List<String> outputs = new ArrayList<>();
  private int opset = ConvertOptions.DEFAULT_OPSET;
  private final Map<String, long[]> inputShapes = new LinkedHashMap<>();
  private boolean fuse = true;
  private boolean state;
  private boolean stateDefaults;
  private boolean logSoftmaxOutput;
  private int ortMinor = ConvertOptions.MIN_ORT_MINOR;
  private QuantizeOptions quantize;
  private final Map<String, OpHandler> handlers = new LinkedHashMap<>();
  private final List<Rule> tfRules = new ArrayList<>();
  private final List<Rule> onnxRules = new ArrayList<>();

  Conversion(Path graph) {
    if (graph == null) throw new IllegalArgumentException("graph is null");
    this.graph = graph;
  }

  /**
   * The V2 checkpoint ({@code --checkpoint}).
   *
   * @param prefix the checkpoint prefix, e.g. {@code net-model/network.030} (the files are {@code PREFIX.index} and
   *     {@code PREFIX.data-*}); null (the default) for a SavedModel, which brings its own
   * @return this builder
   */
  public Conversion checkpoint(Path prefix) {
    this.checkpoint = prefix;
    return this;
  }

  /**
   * The TF tensors that become the model's outputs ({@code --outputs}); ONNX output names are the TF names with
   * {@code :0} dropped. Without outputs: RETURNN's {@code output/output_batch_major}, a SavedModel's signature
   * outputs, or the graph's only sink.
   *
   * @param tfNames TF tensor names, replacing those given before
   * @return this builder
   */
  public Conversion outputs(String... tfNames) {
    return outputs(List.of(tfNames));
  }

  /**
   * As {@link #outputs(String...)}.
   *
   * @param tfNames TF tensor names, replacing those given before
   * @return this builder
   */
  public Conversion outputs(List<String> tfNames) {
    outputs.clear();
    outputs.addAll(tfNames);
    return this;
  }

  /**
   * The ai.onnx opset ({@code --opset}), 13 to 23; default 17.
   *
   * @param opset the opset
   * @return this builder
   */
  public Conversion opset(int opset) {
    this.opset = opset;
    return this;
  }

  /**
   * Fixes or overrides a placeholder's shape ({@code --inputs NAME:d0xd1x...}).
   *
   * @param placeholder the TF placeholder's name
   * @param dims the dimensions; -1 keeps a dimension dynamic
   * @return this builder
   */
  public Conversion inputShape(String placeholder, long... dims) {
    inputShapes.put(placeholder, dims.clone());
    return this;
  }

  /**
   * Whether the fusion rules run (LSTM, attention, layer norm, ...); default true ({@code --no-fuse} is false).
   *
   * @param fuse false for a plain op-by-op conversion, for comparison and debugging
   * @return this builder
   */
  public Conversion fuse(boolean fuse) {
    this.fuse = fuse;
    return this;
  }

  /**
   * Every recurrent state becomes a model input and output, paired in the metadata, for streaming ({@code --state});
   * run such a model with {@code returnn.onnx.runtime.StreamingSession}.
   *
   * @param state true to expose the states
   * @return this builder
   */
  public Conversion state(boolean state) {
    this.state = state;
    return this;
  }

  /**
   * With {@link #state(boolean)}: each state input gets its fresh state as an initializer default
   * ({@code --state-defaults}); ONNX Runtime then leaves those inputs out of its input lists.
   *
   * @param defaults true to give state inputs defaults
   * @return this builder
   */
  public Conversion stateDefaults(boolean defaults) {
    this.stateDefaults = defaults;
    return this;
  }

  /**
   * A Softmax that computes an output directly becomes LogSoftmax ({@code --log-softmax-output}).
   *
   * @param logSoftmax true for log-probabilities out of the model
   * @return this builder
   */
  public Conversion logSoftmaxOutput(boolean logSoftmax) {
    this.logSoftmaxOutput = logSoftmax;
    return this;
  }

  /**
   * The oldest ONNX Runtime the model must load in ({@code --ort-version}); default 1.15, the oldest RASR links.
   *
   * @param version {@code 1.N} or {@code 1.N.P}, at least 1.15
   * @return this builder
   * @throws ConversionException if {@code version} is no such version
   */
  public Conversion ortVersion(String version) {
    this.ortMinor = ConvertOptions.parseOrtVersion(version);
    return this;
  }

  /**
   * Quantizes the weights after conversion ({@code --quantize int8}) and records how in the model metadata under
   * {@code returnn_onnx.quantization}.
   *
   * @param options e.g. {@link Int8#perTensor()}; null (the default) keeps fp32
   * @return this builder
   */
  public Conversion quantize(QuantizeOptions options) {
    this.quantize = options;
    return this;
  }

  /**
   * Converts TF op type {@code tfOp} with {@code handler}, registered in the same registry as the built-in handlers
   * and in place of a built-in one for that op type. The handler reads the TF node's converted inputs and
   * attributes from its {@link returnn.onnx.convert.ConversionContext}, emits ONNX ops through
   * {@code ctx.onnx()} and sets each output with {@code ctx.setOutput(i, value)}:
   *
   * <pre>{@code
   * .handler("Sinh", ctx -> ctx.setOutput(0, ctx.onnx().op("Sinh", ctx.input(0))))
   * }</pre>
   *
   * @param tfOp the TF op type ({@code NodeDef.op})
   * @param handler the handler
   * @return this builder
   */
  public Conversion handler(String tfOp, OpHandler handler) {
    if (tfOp == null || handler == null) throw new IllegalArgumentException("handler: op type and handler must not be null");
    handlers.put(tfOp, handler);
    return this;
  }

  /**
   * Registers a rewrite rule over the ONNX graph (after the TF ops are converted), the way the built-in fusions
   * register: it runs in the ONNX-level phase after the built-in fusions and before the cleanups, to a fixed point
   * (so it must stop matching what it rewrote), with or without {@link #fuse(boolean) fuse}. How often it fired is in
   * {@link Report#rulesFired()} under its {@link Rule#name() name}. A
   * {@link returnn.onnx.rewrite.pattern.PatternRule} over {@link returnn.onnx.ir.Node#ONNX} nodes is the short way:
   *
   * <pre>{@code
   * .rule(new PatternRule("QuickGelu", Node.ONNX,
   *     op("Mul", any("x"), op("Sigmoid", op("Mul", scalar(1.702), any("x")).commutative())).commutative(),
   *     (m, ctx) -> null,
   *     (m, g, ctx) -> g.replaceAllUses(m.root(), new OnnxBuilder(g, ctx.opset(), "gelu", null)
   *         .node(Node.MS, "QuickGelu", List.of(m.value("x")), Map.of(), 1).get(0))))
   * }</pre>
   *
   * <p>Like handlers, rules are written against the converter's IR ({@code returnn.onnx.ir},
   * {@code returnn.onnx.rewrite}, {@code returnn.onnx.build}): usable, but they may change between versions.
   *
   * @param rule the rule
   * @return this builder
   */
  public Conversion rule(Rule rule) {
    if (rule == null) throw new IllegalArgumentException("rule must not be null");
    onnxRules.add(rule);
    return this;
  }

  /**
   * Registers a rewrite rule over the TF-level graph (TF ops, before they are converted; {@link returnn.onnx.ir.Node#TF}
   * nodes): it runs ahead of the built-in TF-level rules (LSTM, attention and norm fusions), so it can claim a pattern
   * first, for example rewrite a custom op's subgraph into one node a {@link #handler handler} then converts.
   *
   * @param rule the rule
   * @return this builder
   */
  public Conversion tfRule(Rule rule) {
    if (rule == null) throw new IllegalArgumentException("tfRule must not be null");
    tfRules.add(rule);
    return this;
  }

  /**
   * The settings as the converter's options record (used by the command line and the tests; not needed to convert).
   *
   * @return the options
   * @throws ConversionException if the settings are inconsistent (opset out of range, state defaults without state)
   */
  public ConvertOptions options() {
    if (stateDefaults && !state) throw new ConversionException("state defaults need state (--state-defaults needs --state)");
    return new ConvertOptions(graph, checkpoint, outputs, opset, inputShapes, fuse, state, stateDefaults, logSoftmaxOutput,
        ortMinor, quantize, handlers, tfRules, onnxRules);
  }

  /**
   * Reads the graph and checkpoint, converts, fuses, and quantizes if asked. Writes nothing.
   *
   * @return the converted model
   * @throws ConversionException if a file cannot be read or a node cannot be converted
   */
  public ConvertedModel run() {
    return new ConvertedModel(Converter.convert(options()));
  }
}
