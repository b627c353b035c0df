package returnn.onnx.rewrite.norm;

import static returnn.onnx.rewrite.pattern.Pattern.any;
import static returnn.onnx.rewrite.pattern.Pattern.constant;
import static returnn.onnx.rewrite.pattern.Pattern.either;
import static returnn.onnx.rewrite.pattern.Pattern.op;

import java.util.List;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.RuleContext;
import returnn.onnx.rewrite.pattern.Match;
import returnn.onnx.rewrite.pattern.Matcher;
import returnn.onnx.rewrite.pattern.Pattern;
import returnn.onnx.rewrite.pattern.PatternRule;

/**
 * Inference batch norm folded into the convolution or matrix product before it. RETURNN's {@code batch_norm}
 * reshapes its input to [-1,1,1,F] and runs {@code FusedBatchNormV3(is_training=False)} (RETURNN_GRAPHS.md); before
 * it come a Conv2D / DepthwiseConv2dNative / MatMul with a constant weight, maybe a Squeeze or Reshape (1-D conv,
 * RETURNN's {@code dot}) and a bias. With {@code f = γ/√(σ²+ε)}: weight·f per output channel, bias·f + β − μ·f, and
 * the batch norm becomes its input.
 */
final class BatchNormFoldRule {
  static final String NAME = "NormRules.FOLD_BATCH_NORM";

  private static final Pattern.Op PRODUCER = op("Conv2D|DepthwiseConv2dNative|MatMul", any("x"), constant("weight"))
      .as("producer");
  private static final Pattern BIASED = op("AddV2|Add|BiasAdd", PRODUCER, constant("bias")).commutative().as("bias_add");
  private static final Pattern PRE = either(
      op("AddV2|Add|BiasAdd", reshaped(PRODUCER), constant("bias")).commutative().as("bias_add"),
      reshaped(BIASED),
      reshaped(PRODUCER));
  static final Pattern.Op PATTERN = op("FusedBatchNormV3|FusedBatchNormV2|FusedBatchNorm",
      op("Reshape", PRE, any("bn_shape")).as("bn_input"),
      constant("gamma"), constant("beta"), constant("mean"), constant("variance"))
      .attr("is_training", false).anchor();

  private BatchNormFoldRule() {}

  private static Pattern reshaped(Pattern p) {
    return either(op("Squeeze", p).as("squeeze"), op("Reshape", p, any("reshape_shape")).as("reshape"), p);
  }

  static PatternRule create() {
    return new PatternRule(NAME, Node.TF, PATTERN, BatchNormFoldRule::check, BatchNormFoldRule::rewrite);
  }

  private static String check(Match m, RuleContext ctx) {
    Node bn = m.rootNode();
    Node producer = m.node("producer");
    String layout = bn.stringAttr("data_format", "NHWC");
    if (!layout.equals("NHWC")) return "batch norm in " + layout + " layout";
    if (!producer.op().equals("MatMul") && !producer.stringAttr("data_format", "NHWC").equals("NHWC")) {
      return producer.describe() + " is not NHWC";
    }
    if (producer.op().equals("MatMul") && producer.boolAttr("transpose_a", false)) return "MatMul with transpose_a";
    Tensor w = m.constant("weight");
    if (w.dtype() != DType.FLOAT) return "weight is " + w.dtype();
    long channels = channels(producer, w);
    for (String k : List.of("gamma", "beta", "mean", "variance")) {
      Tensor t = m.constant(k);
      if (t.size() != channels || t.dtype() != DType.FLOAT) {
        return k + " " + java.util.Arrays.toString(t.shape()) + " is not float [" + channels + "]";
      }
    }
    if (m.has("bias") && m.constant("bias").size() != channels) return "bias does not have " + channels + " channels";
    if (!endsWith(m.value("bn_shape"), channels)) return "the batch norm input is not reshaped to [..., " + channels + "]";
    if (m.has("reshape") && !endsWith(m.value("reshape_shape"), channels)) return "a Reshape changes the channel axis";
    if (m.has("squeeze") && squeezesLast(m.node("squeeze"))) return "a Squeeze removes the channel axis";
    for (int i = 1; i < bn.outputs().size(); i++) {
      if (bn.output(i).useCount() > 0) return "batch statistics output " + i + " is used";
    }
    // RETURNN reshapes the result back to tf.shape(x): folding changes x's values, not its shape.
    List<Node> escaping = m.escaping(u -> u.is(Node.TF, "Shape"));
    if (!escaping.isEmpty()) return escaping.get(0).describe() + " is also used outside the batch norm";
    return null;
  }

  /** Output channels: Conv2D [kh,kw,in,out] → out; depthwise [kh,kw,C,M] → C·M; MatMul [in,out] (or [out,in]). */
  private static long channels(Node producer, Tensor w) {
    long[] s = w.shape();
    return switch (producer.op()) {
      case "Conv2D" -> s[3];
      case "DepthwiseConv2dNative" -> s[2] * s[3];
      default -> producer.boolAttr("transpose_b", false) ? s[0] : s[1];
    };
  }

  private static boolean endsWith(Value shape, long channels) {
    Value s = Matcher.resolve(shape);
    if (s.isConstant()) return s.constant().size() > 0 && s.constant().getLong(s.constant().size() - 1) == channels;
    Node p = s.producer();
    if (p == null || !p.is(Node.TF, "Pack") || p.inputs().isEmpty()) return false;
    Value last = Matcher.resolve(p.input(p.inputs().size() - 1));
    return last.isConstant() && last.constant().size() == 1 && last.constant().getLong(0) == channels;
  }

  private static boolean squeezesLast(Node squeeze) {
    long[] dims = squeeze.intsAttr("squeeze_dims");
    if (dims == null || dims.length == 0) return true; // squeezes all unit dims: a 1-channel axis too
    for (long d : dims) if (d == -1) return true;
    return false;
  }

  private static void rewrite(Match m, Graph g, RuleContext ctx) {
    Node bn = m.rootNode();
    Node producer = m.node("producer");
    Tensor w = m.constant("weight");
    int channels = (int) channels(producer, w);
    float eps = bn.floatAttr("epsilon", 1e-4f);
    double[] gamma = m.constant("gamma").toDoubles(), beta = m.constant("beta").toDoubles();
    double[] mean = m.constant("mean").toDoubles(), var = m.constant("variance").toDoubles();
    double[] bias = m.has("bias") ? m.constant("bias").toDoubles() : new double[channels];
    double[] f = new double[channels];
    float[] shift = new float[channels];
    for (int c = 0; c < channels; c++) {
      f[c] = gamma[c] / Math.sqrt(var[c] + eps);
      shift[c] = (float) ((bias[c] - mean[c]) * f[c] + beta[c]);
    }
    // Element i of the weight feeds output channel (i / stride) % channels: stride 1 unless MatMul's weight is [out,in].
    long stride = producer.op().equals("MatMul") && producer.boolAttr("transpose_b", false) ? w.shape()[1] : 1;
    float[] wv = w.toFloats();
    for (int i = 0; i < wv.length; i++) wv[i] = (float) (wv[i] * f[(int) ((i / stride) % channels)]);
    String base = bn.tfName() + "/folded";
    g.setInput(producer, 1, g.addConstant(base + "_weight", Tensor.ofFloats(w.shape(), wv)));
    Value shiftConst = g.addConstant(base + "_bias", Tensor.ofFloats(new long[] {channels}, shift));
    if (m.has("bias_add")) {
      Node add = m.node("bias_add");
      int k = Matcher.resolve(add.input(0)) == m.value("bias") ? 0 : 1;
      g.setInput(add, k, shiftConst);
    } else {
      Node reshape = m.node("bn_input");
      Node add = g.addNode(Node.TF, "AddV2", base + "_add", bn.tfName(), List.of(reshape.input(0), shiftConst), 1);
      add.set("T", new Attr.Type(DType.FLOAT));
      g.setInput(reshape, 0, add.output(0));
    }
    g.replaceAllUses(bn.output(0), m.node("bn_input").output(0));
  }
}
