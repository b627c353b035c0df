package returnn.onnx.rewrite.attention;

import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.RuleContext;
import returnn.onnx.rewrite.pattern.Match;
import returnn.onnx.rewrite.pattern.PatternRule;

/**
 * A RETURNN key_shift term the self-attention fusion did not take (it declined the layer) is still computed the
 * cheap way ({@link RelativePositions}), as a [B,H,T,T] tensor.
 */
final class RelativePositionRule {
  static final String NAME = "AttentionRules.RELATIVE_POSITIONS";

  private RelativePositionRule() {}

  static PatternRule create() {
    return new PatternRule(NAME, Node.TF, RelativePositions.PATTERN, RelativePositionRule::check, RelativePositionRule::rewrite);
  }

  private static String check(Match m, RuleContext ctx) {
    String[] reason = new String[1];
    return RelativePositions.of(m, reason) == null ? reason[0] : null;
  }

  private static void rewrite(Match m, Graph g, RuleContext ctx) {
    Node root = m.rootNode();
    RelativePositions rel = RelativePositions.of(m, new String[1]);
    OnnxBuilder b = new OnnxBuilder(g, ctx.opset(), root.tfName() + "/relative", root.tfName());
    Value term = rel.emit(b, AttentionEmitter.typed(rel.q(), DType.FLOAT), false);
    term.setShape(Shape.of(Dim.UNKNOWN, Dim.UNKNOWN, Dim.UNKNOWN, Dim.UNKNOWN));
    g.replaceAllUses(m.root(), term);
  }
}
