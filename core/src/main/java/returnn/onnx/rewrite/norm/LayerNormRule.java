package returnn.onnx.rewrite.norm;

import static returnn.onnx.rewrite.pattern.Pattern.any;
import static returnn.onnx.rewrite.pattern.Pattern.constant;
import static returnn.onnx.rewrite.pattern.Pattern.either;
import static returnn.onnx.rewrite.pattern.Pattern.op;
import static returnn.onnx.rewrite.pattern.Pattern.scalar;

import java.util.List;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.RuleContext;
import returnn.onnx.rewrite.pattern.Match;
import returnn.onnx.rewrite.pattern.Pattern;
import returnn.onnx.rewrite.pattern.PatternRule;
import returnn.onnx.rewrite.pattern.PreLegalTypes;

/**
 * RETURNN's {@code layer_norm} (RETURNN_GRAPHS.md "Other building blocks"): Mean(x, -1, keepdims), Sub, Square,
 * Mean, AddV2 eps, Rsqrt, Mul, Mul scale, AddV2 bias, with {@code x - mean} built twice → one ONNX
 * {@code LayerNormalization} (opset 17) over the last axis. The variance may also come as SquaredDifference.
 */
final class LayerNormRule {
  static final String NAME = "NormRules.LAYER_NORM";

  private static final Pattern.Op MEAN = op("Mean", any("x"), constant("mean_axes")).attr("keep_dims", true).as("mean");
  private static final Pattern CENTERED = op("Sub", any("x"), MEAN);
  private static final Pattern VARIANCE = op("Mean",
      either(op("Square", CENTERED), op("SquaredDifference", any("x"), MEAN).commutative()),
      constant("var_axes")).attr("keep_dims", true);
  private static final Pattern INV_STD = op("Rsqrt", op("AddV2|Add", VARIANCE, scalar("eps")).commutative()).anchor();
  private static final Pattern NORMALIZED = op("Mul", CENTERED, INV_STD).commutative();
  static final Pattern.Op PATTERN = op("AddV2|Add",
      op("Mul", NORMALIZED, constant("scale")).commutative(), constant("bias")).commutative();
  /**
   * The same without the shift: RETURNN's LayerNormVariantsLSTMCell normalizes some of its inputs with
   * {@code _norm(..., with_beta=False)}, {@code normalized * gamma} only, built with tf.nn.moments (the variance a
   * SquaredDifference from StopGradient(mean)). Registered after {@link #PATTERN}'s rule, which takes every layer
   * norm that has a shift first.
   */
  static final Pattern.Op PATTERN_NO_SHIFT = op("Mul", NORMALIZED, constant("scale")).commutative();
  static final String NAME_NO_SHIFT = "NormRules.LAYER_NORM_NO_SHIFT";

  private LayerNormRule() {}

  static PatternRule create() {
    return new PatternRule(NAME, Node.TF, PATTERN, LayerNormRule::check, LayerNormRule::rewrite);
  }

  static PatternRule createWithoutShift() {
    return new PatternRule(NAME_NO_SHIFT, Node.TF, PATTERN_NO_SHIFT, LayerNormRule::check, LayerNormRule::rewrite);
  }

  private static String check(Match m, RuleContext ctx) {
    if (ctx.opset() < 17) return "LayerNormalization is an ONNX op from opset 17 (target " + ctx.opset() + ")";
    for (String axes : List.of("mean_axes", "var_axes")) {
      long[] a = m.constant(axes).toLongs();
      if (a.length != 1 || !isLastAxis(a[0], m.value("x"))) {
        return "mean over axes " + java.util.Arrays.toString(a) + ", not the last axis";
      }
    }
    Tensor scale = m.constant("scale"), bias = m.has("bias") ? m.constant("bias") : scale;
    if (scale.rank() != 1 || bias.rank() != 1 || scale.size() != bias.size()) {
      return "scale " + java.util.Arrays.toString(scale.shape()) + " and bias " + java.util.Arrays.toString(bias.shape())
          + " are not vectors of the feature size";
    }
    // TF's Mul and AddV2 take one element type, so float scale and bias mean float x.
    if (scale.dtype() != DType.FLOAT || bias.dtype() != DType.FLOAT) return "not float32";
    double eps = m.constant("eps").getDouble(0);
    if (!(eps >= 0)) return "epsilon " + eps + " is negative";
    return null;
  }

  private static boolean isLastAxis(long axis, Value x) {
    if (axis == -1) return true;
    return x.shape().hasRank() && axis == x.shape().rank() - 1;
  }

  private static void rewrite(Match m, Graph g, RuleContext ctx) {
    Node root = m.rootNode();
    OnnxBuilder b = new OnnxBuilder(g, ctx.opset(), root.tfName(), root.tfName());
    Value x = PreLegalTypes.typed(m.value("x"), DType.FLOAT);
    List<Value> in = m.has("bias") ? List.of(x, m.value("scale"), m.value("bias")) : List.of(x, m.value("scale"));
    Value y = b.op("LayerNormalization", in,
        Attrs.of("axis", -1, "epsilon", (float) m.constant("eps").getDouble(0)));
    g.replaceAllUses(m.root(), y);
  }
}
