package returnn.onnx.rewrite.layout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.RuleContext;

/**
 * Structure of the layout rules' output and their declines on small IR graphs (numbers against TF: verify's
 * ConvLayoutTest and the zoo).
 */
class LayoutRulesTest {
  private static Node node(Graph g, String op, List<Value> in, Shape out) {
    Node n = g.addNode(Node.ONNX, op, op, null, in, 1);
    n.output(0).setDtype(DType.FLOAT);
    n.output(0).setShape(out);
    return n;
  }

  private static Value transpose(Graph g, Value x, Shape out, long... perm) {
    Node t = node(g, "Transpose", List.of(x), out);
    t.set("perm", new Attr.Ints(perm));
    return t.output(0);
  }

  private static final Shape NCHW = Shape.of(Dim.sym("batch"), Dim.of(4), Dim.of(5), Dim.of(6));
  private static final Shape NHWC = Shape.of(Dim.sym("batch"), Dim.of(5), Dim.of(6), Dim.of(4));

  /** Conv → Transpose to NHWC → Add per-channel bias → Relu: the Transpose ends up after the Relu, the bias [1,4,1,1]. */
  @Test
  void pushesPastABroadcastConstantAndAnActivation() {
    Graph g = new Graph("g");
    Value x = g.addInput("x", DType.FLOAT, NCHW);
    Value y = transpose(g, x, NHWC, 0, 2, 3, 1);
    Value bias = g.addConstant("bias", Tensor.ofFloats(new long[] {4}, 1, 2, 3, 4));
    Value added = node(g, "Add", List.of(y, bias), NHWC).output(0);
    Value relu = node(g, "Relu", List.of(added), NHWC).output(0);
    g.addOutput(relu);
    RuleContext ctx = new RuleContext(17);
    assertEquals(1, LayoutRules.TRANSPOSE_PUSH.apply(g, ctx));
    Node last = g.outputs().get(0).producer();
    assertEquals("Transpose", last.op());
    assertArrayEquals(new long[] {0, 2, 3, 1}, last.intsAttr("perm"));
    Node r = last.input(0).producer();
    assertEquals("Relu", r.op());
    assertEquals(NCHW, r.output(0).shape());
    Node add = r.input(0).producer();
    assertEquals(x, add.input(0));
    assertArrayEquals(new long[] {1, 4, 1, 1}, add.input(1).constant().shape());
    assertEquals(1, g.count("Transpose"));
  }

  /** An Add of a tensor that is neither constant nor transposed the same way: nothing moves, and the reason is given. */
  @Test
  void declinesAnOperandInTheOtherLayout() {
    Graph g = new Graph("g");
    Value x = g.addInput("x", DType.FLOAT, NCHW);
    Value other = g.addInput("other", DType.FLOAT, NHWC);
    Value y = transpose(g, x, NHWC, 0, 2, 3, 1);
    g.addOutput(node(g, "Add", List.of(y, other), NHWC).output(0));
    RuleContext ctx = new RuleContext(17);
    assertEquals(0, LayoutRules.TRANSPOSE_PUSH.apply(g, ctx));
    assertEquals("Add", g.outputs().get(0).producer().op());
    assertTrue(ctx.declined().get(0).contains("neither a constant"), ctx.declined().toString());
  }

  /** A Mul by a spatial constant [5,6] is not per output channel: the Conv's weights stay. */
  @Test
  void foldsOnlyPerChannelConstantsIntoTheConv() {
    for (long[] shape : new long[][] {{1, 4, 1, 1}, {5, 6}}) {
      Graph g = new Graph("g");
      Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("batch"), Dim.of(3), Dim.of(5), Dim.of(6)));
      Value w = g.addConstant("w", Tensor.ofFloats(new long[] {4, 3, 1, 1}, new float[12]));
      Value c = node(g, "Conv", List.of(x, w), NCHW).output(0);
      Value k = g.addConstant("k", Tensor.ofFloats(shape, new float[(int) Tensor.count(shape)]));
      g.addOutput(node(g, "Mul", List.of(c, k), NCHW).output(0));
      RuleContext ctx = new RuleContext(17);
      int fired = LayoutRules.FOLD_CONV_SCALE_SHIFT.apply(g, ctx);
      if (shape.length == 4) {
        assertEquals(1, fired);
        assertEquals("Conv", g.outputs().get(0).producer().op());
        assertEquals(3, g.outputs().get(0).producer().inputs().size(), "a bias input now");
      } else {
        assertEquals(0, fired);
        assertTrue(ctx.declined().get(0).contains("not per output channel"), ctx.declined().toString());
      }
    }
  }

  /** [B,T,F,1] → [B,1,T,F] moves only the unit axis: an Unsqueeze of the Unsqueeze's input. */
  @Test
  void unitAxisTransposeBecomesAnUnsqueeze() {
    Graph g = new Graph("g");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("batch"), Dim.sym("time"), Dim.of(20)));
    Value axes = g.addConstant("axes", Tensor.vectorLongs(-1));
    Value u = node(g, "Unsqueeze", List.of(x, axes), Shape.of(Dim.sym("batch"), Dim.sym("time"), Dim.of(20), Dim.of(1))).output(0);
    g.addOutput(transpose(g, u, Shape.of(Dim.sym("batch"), Dim.of(1), Dim.sym("time"), Dim.of(20)), 0, 3, 1, 2));
    assertEquals(1, LayoutRules.UNIT_TRANSPOSE.apply(g, new RuleContext(17)));
    Node out = g.outputs().get(0).producer();
    assertEquals("Unsqueeze", out.op());
    assertEquals(x, out.input(0));
    assertArrayEquals(new long[] {1}, out.input(1).constant().toLongs());
  }
}
