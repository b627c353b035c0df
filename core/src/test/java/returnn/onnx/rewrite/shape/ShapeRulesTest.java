package returnn.onnx.rewrite.shape;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import returnn.onnx.eval.ShapeTrace;
import returnn.onnx.eval.TypeInference;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.RuleContext;

/** Structure of the shape rules' output on small IR graphs (numbers against TF: verify's ShapeRulesParityTest). */
class ShapeRulesTest {
  private static final RuleContext CTX = new RuleContext(17);

  private static Node node(Graph g, String op, List<Value> in, DType out) {
    Node n = g.addNode(Node.ONNX, op, op, null, in, 1);
    n.output(0).setDtype(out);
    TypeInference.infer(n, 17); // shapes, as the builder gives them: the shape trace reads them
    return n;
  }

  private static Value ints(Graph g, long... v) {
    return g.addConstant("c", Tensor.vectorLongs(v));
  }

  /** Axis {@code axis} of {@code x} as RETURNN's legalized tf.shape(x)[axis] gives it: Shape → Cast int32 → Gather → Unsqueeze. */
  private static Value dim(Graph g, Value x, long axis) {
    Value shape = node(g, "Shape", List.of(x), DType.INT64).output(0);
    Node cast = node(g, "Cast", List.of(shape), DType.INT32);
    cast.set("to", new Attr.Int(DType.INT32.onnxCode));
    Node gather = node(g, "Gather", List.of(cast.output(0), g.addConstant("i", Tensor.scalarLong(axis))), DType.INT32);
    gather.set("axis", new Attr.Int(0));
    return node(g, "Unsqueeze", List.of(gather.output(0), ints(g, 0)), DType.INT32).output(0);
  }

  /**
   * RETURNN's dot of x [batch, time, 16] with W [16, 8]: Reshape [-1, 16], MatMul, Reshape to Concat(dim 0 of
   * {@code lead0}, dim 1 of {@code lead1}, 8) cast to int64, then a bias Add.
   */
  private static Graph dot(boolean sameInput, boolean flatUsedElsewhere) {
    Graph g = new Graph("dot");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("batch"), Dim.sym("time"), Dim.of(16)));
    Value other = g.addInput("other", DType.FLOAT, Shape.of(Dim.sym("batch"), Dim.sym("time2"), Dim.of(16)));
    Value flat = node(g, "Reshape", List.of(x, ints(g, -1, 16)), DType.FLOAT).output(0);
    Value w = g.addConstant("W", Tensor.ofFloats(new long[] {16, 8}, new float[128]));
    w.setShape(Shape.of(16, 8));
    Value p = node(g, "MatMul", List.of(flat, w), DType.FLOAT).output(0);
    Value n = g.addConstant("n", Tensor.ofInts(new long[] {1}, 8));
    Node target = node(g, "Concat", List.of(dim(g, x, 0), dim(g, sameInput ? x : other, 1), n), DType.INT32);
    target.set("axis", new Attr.Int(0));
    Node cast = node(g, "Cast", List.of(target.output(0)), DType.INT64);
    cast.set("to", new Attr.Int(DType.INT64.onnxCode));
    Value back = node(g, "Reshape", List.of(p, cast.output(0)), DType.FLOAT).output(0);
    Value y = node(g, "Add", List.of(back, g.addConstant("b", Tensor.ofFloats(new long[] {8}, new float[8]))), DType.FLOAT).output(0);
    g.addOutput(y);
    if (flatUsedElsewhere) g.addOutput(flat);
    return g;
  }

  @Test
  void returnnsDotBecomesOneMatMulOnTheThreeDimensionalInput() {
    Graph g = dot(true, false);
    assertEquals(1, new FlatMatMulRule().apply(g, CTX));
    g.removeDeadNodes();
    assertEquals(0, g.count("Reshape") + g.count("Shape") + g.count("Gather") + g.count("Concat"), g.opHistogram().toString());
    Node mm = g.nodes().stream().filter(n -> n.isOnnx("MatMul")).findFirst().orElseThrow();
    assertSame(g.inputs().get(0), mm.input(0));
    assertEquals("[batch, time, 8]", mm.output(0).shape().toString());
    assertSame(mm, g.outputs().get(0).producer().input(0).producer(), "the bias Add now reads the MatMul directly");
  }

  @Test
  void aTargetWithAnotherTensorsDimIsLeftAloneWithTheReason() {
    Graph g = dot(false, false);
    RuleContext ctx = new RuleContext(17);
    assertEquals(0, new FlatMatMulRule().apply(g, ctx));
    assertEquals(2, g.count("Reshape"));
    assertTrue(ctx.declined().stream().anyMatch(d -> d.startsWith("Shapes.FLAT_MATMUL declined at 'MatMul'")
        && d.endsWith("the Reshape back's target is not x's leading dims and 8")), ctx.declined().toString());
  }

  @Test
  void aFlattenedInputReadElsewhereIsLeftAlone() {
    Graph g = dot(true, true);
    assertEquals(0, new FlatMatMulRule().apply(g, CTX));
    assertEquals(2, g.count("Reshape"));
  }

  @Test
  void theShapeTraceFollowsReturnnsShapeArithmeticAndReadsFixedDimsAsConstants() {
    Graph g = new Graph("s");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("batch"), Dim.sym("time"), Dim.of(16)));
    List<ShapeTrace.Elem> d1 = ShapeTrace.elems(dim(g, x, -2));
    assertEquals(1, d1.size());
    assertTrue(d1.get(0).isDim(x, 1));
    assertArrayEquals(new long[] {16}, ShapeTrace.knownValues(ShapeTrace.elems(dim(g, x, 2))));
    Value shape = node(g, "Shape", List.of(x), DType.INT64).output(0);
    Node slice = node(g, "Slice", List.of(shape, ints(g, 1), ints(g, 3)), DType.INT64);
    List<ShapeTrace.Elem> tail = ShapeTrace.elems(slice.output(0));
    assertTrue(tail.get(0).isDim(x, 1));
    assertEquals(16, tail.get(1).value());
    Node floatCast = node(g, "Cast", List.of(shape), DType.FLOAT);
    floatCast.set("to", new Attr.Int(DType.FLOAT.onnxCode));
    assertNull(ShapeTrace.elems(floatCast.output(0)), "not an integer tensor");
    List<ShapeTrace.Elem> product = ShapeTrace.elems(node(g, "Mul", List.of(shape, shape), DType.INT64).output(0));
    assertEquals(3, product.size());
    assertTrue(product.stream().noneMatch(e -> e.isKnown() || e.src() != null), "arithmetic is not followed: " + product);
  }

  /** TF conv1d's layout: x [N,T,C] → Unsqueeze 2 → Transpose to NCHW → Conv [C,1,k,1] → Transpose to NHWC → Squeeze 2. */
  private static Graph depthwiseConv1d(long width) {
    Graph g = new Graph("conv");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("batch"), Dim.sym("time"), Dim.of(8)));
    Node un = node(g, "Unsqueeze", List.of(x, ints(g, 2)), DType.FLOAT);
    un.output(0).setShape(Shape.of(Dim.sym("batch"), Dim.sym("time"), Dim.of(width), Dim.of(8)));
    Node toNchw = node(g, "Transpose", List.of(un.output(0)), DType.FLOAT);
    toNchw.set("perm", new Attr.Ints(new long[] {0, 3, 1, 2}));
    toNchw.output(0).setShape(Shape.of(Dim.sym("batch"), Dim.of(8), Dim.sym("time"), Dim.of(width)));
    Value w = g.addConstant("w", Tensor.ofFloats(new long[] {8, 1, 5, 1}, new float[40]));
    Node conv = node(g, "Conv", List.of(toNchw.output(0), w), DType.FLOAT);
    conv.set("group", new Attr.Int(8));
    conv.set("strides", new Attr.Ints(new long[] {1, 1}));
    conv.set("pads", new Attr.Ints(new long[] {2, 0, 3, 0}));
    Node toNhwc = node(g, "Transpose", List.of(conv.output(0)), DType.FLOAT);
    toNhwc.set("perm", new Attr.Ints(new long[] {0, 2, 3, 1}));
    Node sq = node(g, "Squeeze", List.of(toNhwc.output(0), ints(g, 2)), DType.FLOAT);
    g.addOutput(node(g, "Relu", List.of(sq.output(0)), DType.FLOAT).output(0));
    return g;
  }

  @Test
  void aConvOverTimeAsHeightRunsOverTimeAsWidthBetweenThePlainLayoutTransposes() {
    Graph g = depthwiseConv1d(1);
    assertEquals(1, new WideConvRule().apply(g, CTX));
    assertEquals(2, new UnsqueezeSqueezeRule().apply(g, CTX), "the re-views cancel TF's ExpandDims and Squeeze");
    g.removeDeadNodes();
    Node conv = g.nodes().stream().filter(n -> n.isOnnx("Conv")).findFirst().orElseThrow();
    assertArrayEquals(new long[] {8, 1, 1, 5}, conv.input(1).constant().shape());
    assertArrayEquals(new long[] {0, 2, 0, 3}, conv.intsAttr("pads"));
    Node toNchw = conv.input(0).producer();
    assertArrayEquals(new long[] {0, 3, 1, 2}, toNchw.intsAttr("perm"), "still the NHWC → NCHW Transpose ONNX Runtime folds");
    Node un = toNchw.input(0).producer();
    assertEquals("Unsqueeze", un.op());
    assertArrayEquals(new long[] {1}, un.input(1).constant().toLongs(), "[N,T,C] viewed as [N,1,T,C]");
    assertSame(g.inputs().get(0), un.input(0));
    Node toNhwc = conv.output(0).uses().get(0).node();
    assertArrayEquals(new long[] {0, 2, 3, 1}, toNhwc.intsAttr("perm"));
    Node sq = toNhwc.output(0).uses().get(0).node();
    assertEquals("Squeeze", sq.op());
    assertArrayEquals(new long[] {1}, sq.input(1).constant().toLongs());
    assertSame(g.outputs().get(0).producer().input(0), sq.output(0));
    assertEquals(3, g.count("Unsqueeze") + g.count("Squeeze") + g.count("Conv"), g.opHistogram().toString());
  }

  @Test
  void aConvWithRealWidthIsLeftAloneWithTheReason() {
    Graph g = depthwiseConv1d(3);
    RuleContext ctx = new RuleContext(17);
    assertEquals(0, new WideConvRule().apply(g, ctx));
    assertTrue(ctx.declined().stream().anyMatch(d -> d.contains("is not known to have width 1")), ctx.declined().toString());
  }
}
