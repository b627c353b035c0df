package returnn.onnx.rewrite.norm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.RuleContext;
import returnn.onnx.rewrite.TfIr;

class LayerNormRuleTest {
  /** RETURNN's layer norm over {@code axis}, x - mean built twice (RETURNN_GRAPHS.md "Other building blocks"). */
  static Value layerNorm(TfIr ir, Value x, int axis) {
    Value mean = mean(ir, x, axis);
    Value variance = mean(ir, ir.op("Square", ir.op("Sub", x, mean)), axis);
    Value inv = ir.op("Rsqrt", ir.op("AddV2", variance, ir.scalar(1e-6f)));
    Value norm = ir.op("Mul", ir.op("Sub", x, mean), inv);
    Value scaled = ir.op("Mul", norm, ir.variable(Tensor.ofFloats(new long[] {3}, 1, 2, 3)));
    return ir.op("AddV2", scaled, ir.variable(Tensor.ofFloats(new long[] {3}, 0, 1, 0)));
  }

  private static Value mean(TfIr ir, Value x, int axis) {
    Node n = ir.node("Mean", 1, x, ir.ints(axis));
    n.set("keep_dims", new Attr.Bool(true));
    return n.output(0);
  }

  @Test
  void returnnLayerNormBecomesOneLayerNormalization() {
    TfIr ir = new TfIr();
    Value x = ir.input("x", 2, 5, 3);
    ir.output(layerNorm(ir, x, -1));
    assertEquals(1, NormRules.LAYER_NORM.apply(ir.g, new RuleContext(17)));
    assertEquals(1, ir.count("LayerNormalization"));
    assertEquals(0, ir.count("Rsqrt") + ir.count("Mean") + ir.count("Sub"));
    Node ln = ir.g.outputs().get(0).producer();
    assertSame(x, ln.input(0));
    assertEquals(-1, ln.intAttr("axis", 0));
    assertEquals(1e-6f, ln.floatAttr("epsilon", 0));
    assertEquals(2.0, ln.input(1).constant().getDouble(1));
  }

  @Test
  void declinesWithReasonsOtherAxesAndOldOpsets() {
    TfIr ir = new TfIr();
    ir.output(layerNorm(ir, ir.input("x", 3, 5, 3), 0));
    RuleContext ctx = new RuleContext(17);
    assertEquals(0, NormRules.LAYER_NORM.apply(ir.g, ctx));
    assertTrue(ctx.declined().get(0).endsWith("mean over axes [0], not the last axis"), ctx.declined().toString());

    TfIr last = new TfIr();
    last.output(layerNorm(last, last.input("x", 2, 3), -1));
    RuleContext old = new RuleContext(13);
    assertEquals(0, NormRules.LAYER_NORM.apply(last.g, old));
    assertTrue(old.declined().get(0).endsWith("LayerNormalization is an ONNX op from opset 17 (target 13)"), old.declined().toString());
  }
}
