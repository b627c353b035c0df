package returnn.onnx.rewrite.attention;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.RuleContext;
import returnn.onnx.rewrite.pattern.Match;
import returnn.onnx.rewrite.pattern.PatternRule;

/**
 * RETURNN self-attention (TF level) → one {@code com.microsoft.MultiHeadAttention} (or ONNX {@code Attention} at opset
 * 23): QKV weights de-interleaved into one MatMul and a Split; key padding mask → {@code key_padding_mask} (the
 * lengths); causal mask → {@code unidirectional}; key_shift term → {@code attention_bias}; previous k/v state →
 * {@code past_key}/{@code past_value}, whose {@code present_*} outputs replace the concatenated state.
 *
 * <p>TF's default {@code inf_value} masks with -inf; the fused node adds -FLT_MAX instead, which gives the same
 * weights and no NaN where TF has none, without a config change.
 */
final class SelfAttentionRule {
  static final String NAME = "AttentionRules.SELF_ATTENTION";

  private SelfAttentionRule() {}

  static PatternRule create() {
    return new PatternRule(NAME, Node.TF, ReturnnSelfAttention.PATTERN, SelfAttentionRule::check, SelfAttentionRule::rewrite);
  }

  private static String check(Match m, RuleContext ctx) {
    String[] reason = new String[1];
    return ReturnnSelfAttention.of(m, reason) == null ? reason[0] : null;
  }

  private static void rewrite(Match m, Graph g, RuleContext ctx) {
    ReturnnSelfAttention a = ReturnnSelfAttention.of(m, new String[1]);
    AttentionEmitter.Fused f = AttentionEmitter.emit(g, ctx.opset(), a);
    rewireShapes(g, ctx.opset(), a);
    if (f.queryHeads() != null) g.replaceAllUses(m.node("q_scaled").output(0), f.queryHeads());
    if (f.presentKey() != null) {
      g.replaceAllUses(m.node("concat_k").output(0), f.presentKey());
      g.replaceAllUses(m.node("concat_v").output(0), f.presentValue());
    }
    g.replaceAllUses(m.root(), f.output());
    String mask = switch (a.mask().kind()) {
      case NONE -> "no mask";
      case KEY_PADDING -> "key padding";
      case CAUSAL, CAUSAL_AFTER_STATE -> "causal";
    };
    ctx.fused(NAME, "'" + a.scope() + "' (" + a.heads() + " heads, " + mask + (a.bias() != null ? ", relative positions" : "")
        + (a.pastKey() != null ? ", previous state" : "") + ") → " + f.op());
  }

  /** Shapes other layers take of the layer's tensors ({@code tf.shape(energy)}) now come from the inputs. */
  private static void rewireShapes(Graph g, int opset, ReturnnSelfAttention a) {
    Match m = a.match();
    Map<String, Value> shapes = new HashMap<>();
    for (Node n : m.nodes()) {
      for (Value o : n.outputs()) {
        for (Value.Use u : new ArrayList<>(o.uses())) {
          Node shape = u.node();
          if (!shape.is(Node.TF, "Shape") || m.nodes().contains(shape)) continue;
          Object[] dims = ReturnnSelfAttention.dims(m, n, o.outputIndex());
          if (dims == null) continue;
          DType t = shape.typeAttr("out_type") == null ? DType.INT32 : shape.typeAttr("out_type");
          Value s = shapes.computeIfAbsent(java.util.Arrays.toString(dims) + t,
              key -> AttentionEmitter.shape(g, opset, a, dims, t));
          g.replaceAllUses(shape.output(0), s);
        }
      }
    }
  }
}
