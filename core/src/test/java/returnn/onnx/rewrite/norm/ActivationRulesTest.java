package returnn.onnx.rewrite.norm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.RuleContext;
import returnn.onnx.rewrite.TfIr;

/** GELU and swish rules on the graphs TF builds for them. */
class ActivationRulesTest {
  /** tf.nn.gelu(x): 0.5 * x * (1 + erf(x / sqrt(2))). */
  static Value geluErf(TfIr ir, Value x, float half) {
    Value erf = ir.op("Erf", ir.op("RealDiv", x, ir.scalar(1.4142135f)));
    return ir.op("Mul", ir.op("Mul", ir.scalar(half), x), ir.op("AddV2", ir.scalar(1), erf));
  }

  /** RETURNN's gelu: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))). */
  static Value geluTanh(TfIr ir, Value x) {
    Value cube = ir.op("Pow", x, ir.scalar(3));
    Value inner = ir.op("AddV2", x, ir.op("Mul", ir.scalar(0.044715f), cube));
    Value t = ir.op("Tanh", ir.op("Mul", ir.scalar(0.7978846f), inner));
    return ir.op("Mul", ir.op("Mul", ir.scalar(0.5f), x), ir.op("AddV2", ir.scalar(1), t));
  }

  private static Node fused(TfIr ir) {
    return ir.g.outputs().get(0).producer();
  }

  @Test
  void exactGeluIsComMicrosoftGeluBeforeOpset20AndOnnxGeluFrom20() {
    for (int opset : new int[] {17, 20}) {
      TfIr ir = new TfIr();
      Value x = ir.input("x", 2, 3);
      ir.output(geluErf(ir, x, 0.5f));
      assertEquals(1, NormRules.GELU.apply(ir.g, new RuleContext(opset)));
      Node n = fused(ir);
      assertSame(x, n.input(0));
      assertEquals(opset >= 20 ? "" : Node.MS, n.domain());
      assertEquals("Gelu", n.op());
      if (opset >= 20) assertEquals("none", n.stringAttr("approximate", ""));
      assertEquals(0, ir.count("Erf"));
    }
  }

  @Test
  void tanhGeluIsFastGeluOrGeluWithTanhApproximation() {
    for (int opset : new int[] {17, 21}) {
      TfIr ir = new TfIr();
      ir.output(geluTanh(ir, ir.input("x", 4)));
      assertEquals(1, NormRules.GELU.apply(ir.g, new RuleContext(opset)));
      Node n = fused(ir);
      assertEquals(opset >= 20 ? "Gelu" : "FastGelu", n.op());
      if (opset >= 20) assertEquals("tanh", n.stringAttr("approximate", ""));
    }
  }

  @Test
  void otherConstantsAreNotGelu() {
    TfIr ir = new TfIr();
    ir.output(geluErf(ir, ir.input("x", 2), 0.6f));
    assertEquals(0, NormRules.GELU.apply(ir.g, new RuleContext(17)));
    assertEquals(1, ir.count("Erf"));
  }

  @Test
  void swishDropsItsMultiplicationByOne() {
    TfIr ir = new TfIr();
    Value x = ir.input("x", 2);
    Value beta = ir.scalar(1);
    Value y = ir.op("Mul", x, ir.op("Sigmoid", ir.op("Mul", beta, x)));
    ir.output(ir.node("IdentityN", 3, y, x, beta).output(0));
    assertEquals(1, NormRules.SWISH.apply(ir.g, new RuleContext(17)));
    assertEquals(1, ir.count("Mul"));
    Node sigmoid = ir.g.nodes().stream().filter(n -> n.op().equals("Sigmoid")).findFirst().orElseThrow();
    assertSame(x, sigmoid.input(0));

    TfIr scaled = new TfIr();
    Value z = scaled.input("x", 2);
    scaled.output(scaled.op("Mul", z, scaled.op("Sigmoid", scaled.op("Mul", scaled.scalar(2), z))));
    assertEquals(0, NormRules.SWISH.apply(scaled.g, new RuleContext(17)));
  }
}
