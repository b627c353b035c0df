package returnn.onnx.rewrite.norm;

import static returnn.onnx.rewrite.pattern.Pattern.any;
import static returnn.onnx.rewrite.pattern.Pattern.op;
import static returnn.onnx.rewrite.pattern.Pattern.scalar;

import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.rewrite.RuleContext;
import returnn.onnx.rewrite.pattern.Match;
import returnn.onnx.rewrite.pattern.Pattern;
import returnn.onnx.rewrite.pattern.PatternRule;

/**
 * {@code tf.nn.swish} (RETURNN's {@code swish} activation) is {@code x·sigmoid(β·x)} with β = 1 behind a
 * custom-gradient IdentityN (which legalizes to nothing). Dropping the multiplication by 1 leaves the compact
 * {@code x·Sigmoid(x)}: two ops for any runtime (ONNX Runtime turns either form into its QuickGelu kernel).
 */
final class SwishRule {
  static final String NAME = "NormRules.SWISH";

  static final Pattern.Op PATTERN = op("Mul",
      any("x"), op("Sigmoid", op("Mul", scalar(1), any("x")).commutative()).as("sigmoid")).commutative();

  private SwishRule() {}

  static PatternRule create() {
    return new PatternRule(NAME, Node.TF, PATTERN, (m, ctx) -> null, SwishRule::rewrite);
  }

  private static void rewrite(Match m, Graph g, RuleContext ctx) {
    g.setInput(m.node("sigmoid"), 0, m.value("x"));
  }
}
