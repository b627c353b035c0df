package returnn.onnx.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ConversionException;
import returnn.onnx.Converter;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.output.LogSoftmaxOutputs;
import returnn.onnx.rewrite.state.StateMapping;

/**
 * {@code convert --rasr-config FILE}: a RASR config fragment for the converted model, with the roles RASR's ONNX
 * components look up in their {@code io-map} (src/Onnx/OnnxFeatureScorer.cc, src/Lm/OnnxRecurrentLanguageModel.cc)
 * mapped to the model's own input and output names:
 * <ul>
 *   <li>an acoustic model (float features [B,T,F]): {@code onnx-feature-scorer} with {@code features},
 *       {@code features-size}, {@code output}; {@code negate-output} and, for a softmax output,
 *       {@code apply-log-on-output} (RASR scores −log p);
 *   <li>a language model (int32 labels [B,L] and {@code --state}): {@code type = onnx} with {@code word},
 *       {@code word-length}, {@code prefix-length} (attention state), {@code nn-output}, the state manager
 *       ({@code lstm} for [B,H] states, {@code transformer} for k/v states with a time axis) and
 *       {@code transform-output-log}/{@code -negate} to turn the output into −log p.
 * </ul>
 * The states themselves need no config: RASR pairs them through the {@code STATE_} metadata. RASR's LM always feeds
 * {@code word-length}; where the model does not read the lengths (a causal Transformer LM), {@link #prepare} adds the
 * graph's length placeholder as an (unused) input so that it can.
 */
final class RasrConfig {
  /** What the model is to RASR. */
  enum Kind { ACOUSTIC_MODEL, LANGUAGE_MODEL }

  private RasrConfig() {}

  /** The data input: the first non-state input. */
  private static Value dataInput(Graph g, StateMapping states) {
    for (Value v : g.inputs()) if (!isState(v.name(), states) && v.shape().hasRank() && v.shape().rank() >= 2) return v;
    throw new ConversionException("--rasr-config: the model has no [B,T,...] data input");
  }

  private static boolean isState(String name, StateMapping states) {
    return states != null && (states.inputs().contains(name) || name.equals(states.prefixLength()));
  }

  static StateMapping states(Converter.Result r) {
    String json = r.metadata().get(StateMapping.METADATA_KEY);
    return json == null ? null : StateMapping.fromJson(json);
  }

  static Kind kind(Converter.Result r) {
    Value data = dataInput(r.graph(), states(r));
    boolean labels = !data.dtype().isFloating();
    if (labels && states(r) == null) {
      throw new ConversionException("--rasr-config: a model over labels is a RASR language model, which carries its state: convert with --state");
    }
    return labels ? Kind.LANGUAGE_MODEL : Kind.ACOUSTIC_MODEL;
  }

  /** The length input of the data ({@code <data>_dim0_size}), or null. */
  static String lengthsName(Value data) {
    return data.name() + "_dim0_size";
  }

  /**
   * For a language model without its length input: adds the length placeholder {@code tfHasLengths} says the TF
   * graph has as an unused int32 [B] input (RASR feeds word-length whatever the model reads).
   */
  static void prepare(Converter.Result r, java.util.function.Predicate<String> tfHasPlaceholder) {
    if (kind(r) != Kind.LANGUAGE_MODEL) return;
    Graph g = r.graph();
    Value data = dataInput(g, states(r));
    String lengths = lengthsName(data);
    if (g.inputs().stream().anyMatch(v -> v.name().equals(lengths))) return;
    if (!tfHasPlaceholder.test(lengths)) {
      throw new ConversionException("--rasr-config: RASR's LM feeds word-length, but the graph has no length placeholder " + lengths);
    }
    boolean taken = g.nodes().stream().anyMatch(n -> n.outputs().stream().anyMatch(o -> lengths.equals(o.name())));
    if (taken) throw new ConversionException("--rasr-config: the name " + lengths + " is taken");
    g.reserveName(lengths); // the pruned placeholder may have reserved it already
    g.addInput(lengths, DType.INT32, Shape.of(data.shape().dim(0)));
    r.report().fusions.add("rasr: " + lengths + " added as an input the model does not read (RASR's LM always feeds word-length)");
  }

  /** The fragment for the model at {@code modelFile} (as RASR is to open it). */
  static String fragment(Converter.Result r, String modelFile) {
    Graph g = r.graph();
    StateMapping states = states(r);
    Kind kind = kind(r);
    Value data = dataInput(g, states);
    String lengths = g.inputs().stream().map(Value::name).filter(n -> n.equals(lengthsName(data))).findFirst().orElse(null);
    List<Value> network = new ArrayList<>();
    for (Value v : g.outputs()) if (states == null || !states.outputs().contains(v.name())) network.add(v);
    Value out = network.get(0);
    Node norm = LogSoftmaxOutputs.finalNormalization(out);
    String what = norm == null ? null : norm.op();
    StringBuilder sb = new StringBuilder();
    String scope = kind == Kind.LANGUAGE_MODEL ? "*.lm" : "*.mixture-set";
    sb.append("# RASR config fragment for ").append(modelFile).append(" (").append(kind == Kind.LANGUAGE_MODEL ? "language model" : "acoustic model")
        .append("), written by returnn-onnx convert --rasr-config.\n");
    sb.append("# Put the sections under your ").append(kind == Kind.LANGUAGE_MODEL ? "LM" : "feature scorer").append("'s selection (here ")
        .append(scope).append(").\n");
    sb.append("# Output ").append(out.name()).append(": ").append(what == null ? "neither Softmax nor LogSoftmax (set the output transformation yourself)"
        : what.equals("Softmax") ? "probabilities (Softmax)" : "log-probabilities (LogSoftmax)").append('\n');
    Map<String, String> main = new LinkedHashMap<>();
    Map<String, String> io = new LinkedHashMap<>();
    if (kind == Kind.ACOUSTIC_MODEL) {
      main.put("feature-scorer-type", "onnx-feature-scorer");
      if (what != null) {
        main.put("apply-log-on-output", String.valueOf(what.equals("Softmax")));
        main.put("negate-output", "true");
      }
      io.put("features", data.name());
      if (lengths != null) io.put("features-size", lengths);
      io.put("output", out.name());
    } else {
      main.put("type", "onnx");
      if (what != null) {
        main.put("transform-output-log", String.valueOf(what.equals("Softmax")));
        main.put("transform-output-negate", "true");
      }
      io.put("word", data.name());
      if (lengths != null) io.put("word-length", lengths);
      if (states.prefixLength() != null) io.put("prefix-length", states.prefixLength());
      io.put("nn-output", out.name());
    }
    if (kind == Kind.ACOUSTIC_MODEL && (!staticLastDim(data) || !staticLastDim(out))) {
      sb.append("# warning: RASR needs a static feature dim and class dim; fix them with --inputs\n");
    }
    section(sb, scope, main);
    Map<String, String> session = new LinkedHashMap<>();
    session.put("file", modelFile);
    session.put("intra-op-num-threads", "1");
    session.put("inter-op-num-threads", "1");
    section(sb, scope + ".session", session);
    section(sb, scope + ".io-map", io);
    if (kind == Kind.LANGUAGE_MODEL) {
      boolean timed = false, fixed = false;
      for (StateMapping.Entry e : states.entries()) {
        boolean t = hasTimeAxis(e.inputShape());
        timed |= t;
        fixed |= !t;
      }
      if (timed && fixed) sb.append("# both [B,H] and k/v states: no single RASR state manager carries both\n");
      section(sb, scope + ".state-manager", Map.of("type", timed ? "transformer" : "lstm"));
    } else if (states != null) {
      sb.append("# the model has state inputs (STATE_ metadata); choose RASR's state manager for them yourself\n");
    }
    return sb.toString();
  }

  private static boolean hasTimeAxis(Shape s) {
    if (!s.hasRank()) return false;
    for (int i = 1; i < s.rank(); i++) if (!s.dim(i).isFixed()) return true;
    return false;
  }

  private static void section(StringBuilder sb, String name, Map<String, String> values) {
    sb.append('\n').append('[').append(name).append("]\n");
    int width = values.keySet().stream().mapToInt(String::length).max().orElse(0);
    values.forEach((k, v) -> sb.append(k).append(" ".repeat(width - k.length())).append(" = ").append(v).append('\n'));
  }

  /** The io-map values of a fragment: the model names it refers to. */
  static List<String> ioMapNames(String fragment) {
    List<String> names = new ArrayList<>();
    boolean inIo = false;
    for (String line : fragment.split("\n")) {
      if (line.startsWith("[")) inIo = line.endsWith(".io-map]");
      else if (inIo && line.contains("=")) names.add(line.substring(line.indexOf('=') + 1).trim());
    }
    return names;
  }

  static boolean staticLastDim(Value v) {
    return v.shape().hasRank() && v.shape().dim(-1).isFixed() && !v.shape().dim(-1).equals(Dim.UNKNOWN);
  }
}
