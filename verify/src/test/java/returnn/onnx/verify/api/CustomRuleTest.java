package returnn.onnx.verify.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static returnn.onnx.rewrite.pattern.Pattern.any;
import static returnn.onnx.rewrite.pattern.Pattern.op;
import static returnn.onnx.rewrite.pattern.Pattern.scalar;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.GraphDef;
import returnn.onnx.api.ConvertedModel;
import returnn.onnx.api.ReturnnOnnx;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.reference.TfReference;
import returnn.onnx.rewrite.Rule;
import returnn.onnx.rewrite.pattern.PatternRule;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.verify.Comparison;

/**
 * User-supplied rewrite rules through the public API ({@code Conversion.rule} over the ONNX graph,
 * {@code Conversion.tfRule} over the TF graph), registered in the same pipeline as the built-in rules. The graph is
 * {@code y = n·sigmoid(1.702·n)} with {@code n = -(-x)}: a TF-level rule drops the double negation, an ONNX-level rule
 * fuses the sigmoid-GELU into {@code com.microsoft.QuickGelu}. The model matches TensorFlow running the graph, and
 * the op counts show both rules fired; the same fusion with the wrong {@code alpha} fails the comparison, so the
 * comparison can fail.
 */
class CustomRuleTest {
  @TempDir
  Path dir;

  static final float ALPHA = 1.702f;

  /** Neg(Neg(x)) → x, over TF nodes. */
  static final Rule DOUBLE_NEG = new PatternRule("user.DoubleNeg", Node.TF, op("Neg", op("Neg", any("x"))),
      (m, ctx) -> null, (m, g, ctx) -> g.replaceAllUses(m.root(), m.value("x")));

  /** x·Sigmoid(a·x) → com.microsoft.QuickGelu(x, alpha), over ONNX nodes. */
  static Rule quickGelu(float alpha) {
    return new PatternRule("user.QuickGelu", Node.ONNX,
        op("Mul", any("x"), op("Sigmoid", op("Mul", scalar(ALPHA), any("x")).commutative())).commutative(),
        (m, ctx) -> null,
        (m, g, ctx) -> {
          Value x = m.value("x");
          Map<String, Attr> attrs = Attrs.of("alpha", alpha);
          Value y = new OnnxBuilder(g, ctx.opset(), "quick_gelu", m.rootNode().tfName()).node(Node.MS, "QuickGelu", List.of(x), attrs, 1).get(0);
          y.setShape(x.shape());
          g.replaceAllUses(m.root(), y);
        });
  }

  private static GraphDef graph() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 4);
    b.op("Neg", "n1", "x").attr("T", DType.FLOAT).outType(DType.FLOAT);
    b.op("Neg", "n", "n1").attr("T", DType.FLOAT).outType(DType.FLOAT);
    b.constant("a", Tensor.ofFloats(new long[0], new float[] {ALPHA}));
    b.op("Mul", "ax", "a", "n").attr("T", DType.FLOAT).outType(DType.FLOAT);
    b.op("Sigmoid", "s", "ax").attr("T", DType.FLOAT).outType(DType.FLOAT);
    b.op("Mul", "y", "n", "s").attr("T", DType.FLOAT).outType(DType.FLOAT);
    return b.build();
  }

  private static final Map<String, Tensor> FEEDS = Map.of(
      "x", Tensor.ofFloats(new long[] {2, 4}, new float[] {-3, -1.25f, -0.5f, 0, 0.3f, 1, 2.5f, 4}));

  private Path writeGraph() throws IOException {
    Path pb = dir.resolve("graph.pb");
    Files.write(pb, graph().toByteArray());
    return pb;
  }

  private static Comparison compare(ConvertedModel m) {
    Tensor tf = TfReference.run(graph(), null, FEEDS, List.of("y")).get("y");
    try (OnnxSession s = OnnxSession.open(m.bytes(), OnnxSession.Options.defaults())) {
      return Comparison.of("y", tf, s.run(FEEDS).get("y"));
    }
  }

  @Test
  void userRulesFireInTheirPhasesAndTheModelMatchesTf() throws IOException {
    Path pb = writeGraph();
    ConvertedModel plain = ReturnnOnnx.convert(pb).outputs("y").run();
    assertEquals(2, plain.report().onnxOps().get("Neg"), plain.report().text());
    assertEquals(1, plain.report().onnxOps().get("Sigmoid"), plain.report().text());
    assertNull(plain.report().onnxOps().get("com.microsoft.QuickGelu"), plain.report().text());
    assertTrue(compare(plain).ok(1e-5, DType.FLOAT), compare(plain).toString());

    ConvertedModel m = ReturnnOnnx.convert(pb).outputs("y").tfRule(DOUBLE_NEG).rule(quickGelu(ALPHA)).run();
    assertEquals(1, m.report().rulesFired().get("user.DoubleNeg"), m.report().text());
    assertEquals(1, m.report().rulesFired().get("user.QuickGelu"), m.report().text());
    assertEquals(Map.of("com.microsoft.QuickGelu", 1), m.report().onnxOps(), m.report().text());
    assertTrue(m.metadata().get("returnn_onnx.options").contains("tf_rules=user.DoubleNeg onnx_rules=user.QuickGelu"),
        m.metadata().toString());
    Comparison c = compare(m);
    assertTrue(c.ok(1e-5, DType.FLOAT), c.toString());
    assertTrue(c.finite() == 8, c.toString());

    // Without fusion the user rules still run (they are the user's, not the built-in fusions).
    ConvertedModel unfused = ReturnnOnnx.convert(pb).outputs("y").fuse(false).tfRule(DOUBLE_NEG).rule(quickGelu(ALPHA)).run();
    assertEquals(Map.of("com.microsoft.QuickGelu", 1), unfused.report().onnxOps(), unfused.report().text());

    // The same fusion with ONNX Runtime's default alpha of the wrong formula (x·sigmoid(x)) is off by far more.
    Comparison broken = compare(ReturnnOnnx.convert(pb).outputs("y").rule(quickGelu(1f)).run());
    assertFalse(broken.ok(1e-5, DType.FLOAT), "QuickGelu with alpha 1 must differ from x·sigmoid(1.702x): " + broken);
  }
}
