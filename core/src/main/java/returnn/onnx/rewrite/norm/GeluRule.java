package returnn.onnx.rewrite.norm;

import static returnn.onnx.rewrite.pattern.Pattern.any;
import static returnn.onnx.rewrite.pattern.Pattern.either;
import static returnn.onnx.rewrite.pattern.Pattern.op;
import static returnn.onnx.rewrite.pattern.Pattern.scalar;

import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.RuleContext;
import returnn.onnx.rewrite.pattern.Match;
import returnn.onnx.rewrite.pattern.Pattern;
import returnn.onnx.rewrite.pattern.PatternRule;
import returnn.onnx.rewrite.pattern.PreLegalTypes;

/**
 * GELU as TF builds it → one node. {@code tf.nn.gelu(x)}: {@code 0.5·x·(1 + erf(x / √2))}; {@code tf.nn.gelu(x,
 * approximate=True)} and RETURNN's own {@code gelu} (returnn/tf/util/basic.py): {@code 0.5·x·(1 + tanh(√(2/π)·(x +
 * 0.044715·x³)))}. Opset 20 has ONNX {@code Gelu} (approximate "none" / "tanh"); before that ONNX Runtime's
 * {@code com.microsoft.Gelu} / {@code FastGelu} compute the same two formulas.
 */
final class GeluRule {
  static final String NAME = "NormRules.GELU";

  private static final Pattern ERF_ARG = either(op("RealDiv", any("x"), scalar(Math.sqrt(2))),
      op("Mul", any("x"), scalar(Math.sqrt(0.5))).commutative());
  private static final Pattern TANH_ARG = op("Mul", scalar(Math.sqrt(2 / Math.PI)),
      op("AddV2|Add", any("x"), op("Mul", scalar(0.044715), op("Pow", any("x"), scalar(3))).commutative()).commutative())
      .commutative();
  private static final Pattern CURVE = either(op("Erf", ERF_ARG).as("erf"), op("Tanh", TANH_ARG).as("tanh"));
  static final Pattern.Op PATTERN = op("Mul",
      op("Mul", scalar(0.5), any("x")).commutative(),
      op("AddV2|Add", scalar(1), CURVE).commutative()).commutative();

  private GeluRule() {}

  static PatternRule create() {
    return new PatternRule(NAME, Node.TF, PATTERN, GeluRule::check, GeluRule::rewrite);
  }

  private static String check(Match m, RuleContext ctx) {
    DType t = m.rootNode().typeAttr("T");
    return t == DType.FLOAT ? null : "GELU of " + t + " (ONNX Runtime's kernels are float32)";
  }

  private static void rewrite(Match m, Graph g, RuleContext ctx) {
    Node root = m.rootNode();
    OnnxBuilder b = new OnnxBuilder(g, ctx.opset(), root.tfName(), root.tfName());
    Value x = PreLegalTypes.typed(m.value("x"), DType.FLOAT);
    boolean tanh = m.has("tanh");
    Value y;
    if (ctx.opset() >= 20) {
      y = b.op("Gelu", List.of(x), Attrs.of("approximate", tanh ? "tanh" : "none"));
    } else {
      y = b.node(Node.MS, tanh ? "FastGelu" : "Gelu", List.of(x), Map.<String, Attr>of(), 1).get(0);
    }
    y.setShape(x.shape());
    g.replaceAllUses(m.root(), y);
  }
}
