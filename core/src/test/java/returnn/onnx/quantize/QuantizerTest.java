package returnn.onnx.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/** Structure of each quantization rule's output on small IR graphs (accuracy in ONNX Runtime: verify's quantize tests). */
class QuantizerTest {
  private static final QuantizeOptions PER_TENSOR = QuantizeOptions.defaults();
  private static final QuantizeOptions PER_CHANNEL = QuantizeOptions.defaults().withPerChannel(true);

  @Test
  void matMulWithConstantWeightAndBiasBecomesOneDynamicQuantizeMatMul() {
    Graph g = QuantizeGraphs.matMul(16, 8, true);
    QuantizationReport r = Quantizer.quantize(g, PER_TENSOR, 17);
    assertEquals(0, g.count("MatMul") + g.count("Add"), g.opHistogram().toString());
    Node q = QuantizeGraphs.only(g, Node.MS, "DynamicQuantizeMatMul");
    assertSame(g.inputs().get(0), q.input(0));
    assertEquals(DType.INT8, q.input(1).constant().dtype());
    assertArrayEquals(new long[] {16, 8}, q.input(1).constant().shape());
    assertArrayEquals(new long[0], q.input(2).constant().shape(), "per-tensor: scalar b_scale");
    assertNull(q.input(3), "zero point left at its default 0");
    assertArrayEquals(new long[] {8}, q.input(4).constant().shape(), "the Add's bias");
    assertSame(g.outputs().get(0), q.output(0));
    assertEquals("y", q.output(0).name(), "the model's output keeps its name");
    assertEquals(DType.FLOAT, q.output(0).dtype());
    assertEquals(1, r.quantized().size());
    assertTrue(r.quantized().get(0).to().endsWith("(+bias)"), r.format());
    assertTrue(r.weightBytesAfter() < r.weightBytesBefore() / 3, r.format());
    assertEquals(0, g.constants().stream().filter(c -> c.constant().dtype() == DType.FLOAT && c.constant().rank() == 2).count(),
        "the fp32 weight is gone");
  }

  /** RETURNN's dot: x [B,T,K] → Reshape [B·T,K] → MatMul → Reshape to Concat(Shape(x)[:2], [N]) → Add bias. */
  private static Graph returnnDot(long lastAxis) {
    Graph g = new Graph("dot");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(returnn.onnx.ir.Dim.sym("batch"), returnn.onnx.ir.Dim.sym("time"), returnn.onnx.ir.Dim.of(16)));
    Value flat = QuantizeGraphs.node(g, Node.ONNX, "Reshape", "dot/Reshape", List.of(x, g.addConstant("s", Tensor.vectorLongs(-1, 16))), 1).output(0);
    Value w = g.addConstant("W", Tensor.ofFloats(new long[] {16, 8}, QuantizeGraphs.random(1, 128, 0.1)));
    Value p = QuantizeGraphs.node(g, Node.ONNX, "MatMul", "dot/MatMul", List.of(flat, w), 1).output(0);
    Node shape = g.addNode(Node.ONNX, "Shape", "dot/Shape", null, List.of(x), 1);
    Node lead = g.addNode(Node.ONNX, "Slice", "dot/Slice", null, List.of(shape.output(0), g.addConstant("a", Tensor.vectorLongs(0)),
        g.addConstant("b", Tensor.vectorLongs(2))), 1);
    Node target = g.addNode(Node.ONNX, "Concat", "dot/Concat", null, List.of(lead.output(0), g.addConstant("n", Tensor.vectorLongs(lastAxis))), 1);
    target.set("axis", new Attr.Int(0));
    Value back = g.addNode(Node.ONNX, "Reshape", "dot/Reshape_1", null, List.of(p, target.output(0)), 1).output(0);
    back.setDtype(DType.FLOAT);
    Value b = g.addConstant("b", Tensor.ofFloats(new long[] {8}, QuantizeGraphs.random(2, 8, 0.1)));
    return QuantizeGraphs.output(g, QuantizeGraphs.node(g, Node.ONNX, "Add", "add", List.of(back, b), 1).output(0), "y");
  }

  @Test
  void theBiasAfterReturnnsReshapeBackMovesIntoTheQuantizedOp() {
    Graph g = returnnDot(8);
    Quantizer.quantize(g, PER_TENSOR, 17);
    assertEquals(0, g.count("Add"), g.opHistogram().toString());
    Node q = QuantizeGraphs.only(g, Node.MS, "DynamicQuantizeMatMul");
    assertArrayEquals(new long[] {8}, q.input(4).constant().shape());
    Node reshape = q.output(0).uses().get(0).node();
    assertEquals("Reshape", reshape.op());
    assertSame(g.outputs().get(0), reshape.output(0));
    assertEquals("y", reshape.output(0).name());
  }

  @Test
  void aReshapeThatChangesTheLastAxisKeepsTheAdd() {
    Graph g = returnnDot(4);
    Quantizer.quantize(g, PER_TENSOR, 17);
    assertEquals(1, g.count("Add"));
    assertEquals(3, QuantizeGraphs.only(g, Node.MS, "DynamicQuantizeMatMul").inputs().size());
  }

  /** matMul(16, 8, bias) followed by Mul with {@code factor} (operand order as given), the Mul's output named y. */
  private static Graph scaled(boolean bias, Tensor factor, boolean factorFirst) {
    Graph g = QuantizeGraphs.matMul(16, 8, bias);
    Value y = g.outputs().get(0);
    y.setName("product");
    Value c = g.addConstant("half_step", factor);
    Value out = QuantizeGraphs.node(g, Node.ONNX, "Mul", "half_step/mul", factorFirst ? List.of(c, y) : List.of(y, c), 1).output(0);
    g.setOutput(0, out);
    out.setName("y");
    return g;
  }

  @Test
  void aConstantScalarFactorAfterTheBiasGoesIntoTheScalesAndTheBias() {
    for (boolean perChannel : new boolean[] {false, true}) {
      Graph reference = QuantizeGraphs.matMul(16, 8, true);
      Quantizer.quantize(reference, perChannel ? PER_CHANNEL : PER_TENSOR, 17);
      Node plain = QuantizeGraphs.only(reference, Node.MS, "DynamicQuantizeMatMul");
      Graph g = scaled(true, Tensor.scalarFloat(0.75f), true);
      QuantizationReport r = Quantizer.quantize(g, perChannel ? PER_CHANNEL : PER_TENSOR, 17);
      assertEquals(0, g.count("Mul") + g.count("Add") + g.count("MatMul"), g.opHistogram().toString());
      Node q = QuantizeGraphs.only(g, Node.MS, "DynamicQuantizeMatMul");
      assertArrayEquals(plain.input(1).constant().toLongs(), q.input(1).constant().toLongs(), "the int8 values do not change");
      float[] s0 = plain.input(2).constant().toFloats(), s = q.input(2).constant().toFloats();
      for (int i = 0; i < s.length; i++) assertEquals(0.75f * s0[i], s[i], 0f);
      float[] b0 = plain.input(4).constant().toFloats(), b = q.input(4).constant().toFloats();
      for (int i = 0; i < b.length; i++) assertEquals(0.75f * b0[i], b[i], 0f);
      assertSame(g.outputs().get(0), q.output(0));
      assertEquals("y", q.output(0).name());
      assertTrue(r.quantized().get(0).to().endsWith("(+bias) (+scale)"), r.format());
    }
  }

  @Test
  void withoutABiasTheFactorGoesIntoTheScalesAlone() {
    Graph g = scaled(false, Tensor.scalarFloat(0.5f), false);
    Quantizer.quantize(g, PER_TENSOR, 17);
    assertEquals(0, g.count("Mul"), g.opHistogram().toString());
    assertEquals(3, QuantizeGraphs.only(g, Node.MS, "DynamicQuantizeMatMul").inputs().size());
  }

  @Test
  void aFactorOfRankOneOrANegativeFactorStaysAMul() {
    // Mul by a [1] constant broadcasts (a [1,1,1,1] factor would even raise the rank); a negative scale is no scale.
    for (Tensor factor : List.of(Tensor.ofFloats(new long[] {1}, 0.5f), Tensor.scalarFloat(-0.5f))) {
      Graph g = scaled(true, factor, false);
      Quantizer.quantize(g, PER_TENSOR, 17);
      assertEquals(1, g.count("Mul"), g.opHistogram().toString());
      assertEquals(1, g.count("com.microsoft.DynamicQuantizeMatMul"));
    }
  }

  @Test
  void perChannelGivesOneScalePerOutputColumn() {
    Graph g = QuantizeGraphs.matMul(16, 8, false);
    Quantizer.quantize(g, PER_CHANNEL, 17);
    Node q = QuantizeGraphs.only(g, Node.MS, "DynamicQuantizeMatMul");
    assertArrayEquals(new long[] {8}, q.input(2).constant().shape());
    assertEquals(3, q.inputs().size());
  }

  @Test
  void gemmWeightsUseTheFullRangePerTensorAndTheReducedRangePerChannelUnlessToldEmbeddingsAlwaysFull() {
    assertEquals(127, largestInt8(QuantizeGraphs.matMul(16, 8, false), PER_TENSOR));
    assertEquals(64, largestInt8(QuantizeGraphs.matMul(16, 8, false), PER_CHANNEL));
    assertEquals(127, largestInt8(QuantizeGraphs.matMul(16, 8, false), PER_CHANNEL.withRange(QuantizeOptions.Range.FULL)));
    assertEquals(64, largestInt8(QuantizeGraphs.matMul(16, 8, false), PER_TENSOR.withRange(QuantizeOptions.Range.REDUCED)));
    assertEquals(64, largestInt8(QuantizeGraphs.lstm(3, 4, "forward"), PER_CHANNEL));
    assertEquals(127, largestInt8(QuantizeGraphs.embedding(8192, 8), PER_CHANNEL.withRange(QuantizeOptions.Range.REDUCED)));
  }

  private static long largestInt8(Graph g, QuantizeOptions o) {
    Quantizer.quantize(g, o, 17);
    long max = 0;
    for (Value c : g.constants()) {
      if (c.constant().dtype() == DType.INT8) for (long v : c.constant().toLongs()) max = Math.max(max, Math.abs(v));
    }
    return max;
  }

  @Test
  void anAddOfAProductWithOtherConsumersStaysAnAdd() {
    Graph g = QuantizeGraphs.matMul(16, 8, true);
    Node mm = QuantizeGraphs.only(g, Node.ONNX, "MatMul");
    g.addOutput(mm.output(0));
    Quantizer.quantize(g, PER_TENSOR, 17);
    assertEquals(1, g.count("Add"));
    assertEquals(1, g.count("com.microsoft.DynamicQuantizeMatMul"));
  }

  @Test
  void productsOfTwoActivationsAreKeptWithAReason() {
    Graph g = new Graph("energy");
    Value a = g.addInput("a", DType.FLOAT, Shape.of(4, 8));
    Value b = g.addInput("b", DType.FLOAT, Shape.of(8, 4));
    QuantizeGraphs.output(g, QuantizeGraphs.node(g, Node.ONNX, "MatMul", "energy", List.of(a, b), 1).output(0), "y");
    QuantizationReport r = Quantizer.quantize(g, PER_TENSOR, 17);
    assertEquals(1, g.count("MatMul"));
    assertEquals("no constant float [K,N] weight", r.kept().get(0).reason());
  }

  @Test
  void gemmFoldsTransposeAlphaAndBetaIntoWeightsAndBias() {
    Graph g = QuantizeGraphs.gemm(6, 5, true, 2f, 0.5f, new long[] {1, 5});
    Tensor b = g.constants().get(0).constant(), c = g.constants().get(1).constant();
    Quantizer.quantize(g, PER_CHANNEL, 17);
    Node q = QuantizeGraphs.only(g, Node.MS, "DynamicQuantizeMatMul");
    Tensor wq = q.input(1).constant();
    float[] scale = q.input(2).constant().toFloats();
    assertArrayEquals(new long[] {6, 5}, wq.shape());
    for (int k = 0; k < 6; k++) {
      for (int n = 0; n < 5; n++) {
        double expected = 2 * b.getDouble(n * 6 + k);
        assertEquals(expected, wq.getDouble(k * 5 + n) * scale[n], scale[n] / 2 + 1e-7);
      }
    }
    Tensor bias = q.input(4).constant();
    assertArrayEquals(new long[] {5}, bias.shape());
    for (int n = 0; n < 5; n++) assertEquals(0.5 * c.getDouble(n), bias.getDouble(n), 1e-7);
    assertEquals(0, g.count("Gemm") + g.count("Add"));
  }

  @Test
  void gemmWithAFullMatrixCAddsItAfterward() {
    Graph g = QuantizeGraphs.gemm(6, 5, false, 1f, 1f, new long[] {3, 5});
    Quantizer.quantize(g, PER_TENSOR, 17);
    assertEquals(1, g.count("Add"));
    assertEquals(0, g.count("Mul"), "beta 1 needs no Mul");
    assertEquals(3, QuantizeGraphs.only(g, Node.MS, "DynamicQuantizeMatMul").inputs().size());
  }

  @Test
  void lstmBecomesDynamicQuantizeLstmWithTransposedWeights() {
    Graph g = QuantizeGraphs.lstm(3, 4, "bidirectional");
    Tensor w = g.constants().get(0).constant();
    Quantizer.quantize(g, PER_TENSOR, 17);
    assertEquals(0, g.count("LSTM"));
    Node q = QuantizeGraphs.only(g, Node.MS, "DynamicQuantizeLSTM");
    assertEquals(12, q.inputs().size());
    assertArrayEquals(new long[] {2, 3, 16}, q.input(1).constant().shape(), "W [D, input, 4H]");
    assertArrayEquals(new long[] {2, 4, 16}, q.input(2).constant().shape(), "R [D, H, 4H]");
    assertArrayEquals(new long[] {2, 32}, q.input(3).constant().shape(), "B [D, 8H] as it was");
    assertSame(g.inputs().get(1), q.input(4), "sequence_lens as it was");
    assertNull(q.input(5));
    for (int i : new int[] {8, 10}) assertArrayEquals(new long[] {2}, q.input(i).constant().shape(), "per-direction scale");
    for (int i : new int[] {9, 11}) {
      assertEquals(DType.INT8, q.input(i).constant().dtype());
      assertArrayEquals(new long[] {2}, q.input(i).constant().shape());
      for (double z : q.input(i).constant().toDoubles()) assertEquals(0, z);
    }
    float[] scale = q.input(8).constant().toFloats();
    Tensor wq = q.input(1).constant();
    for (int d = 0; d < 2; d++) {
      for (int gate = 0; gate < 16; gate++) {
        for (int k = 0; k < 3; k++) {
          assertEquals(w.getDouble((d * 16 + gate) * 3 + k), wq.getDouble((d * 3 + k) * 16 + gate) * scale[d], scale[d] / 2 + 1e-7);
        }
      }
    }
    assertEquals(new Attr.Str("bidirectional"), q.attr("direction"));
    assertEquals(new Attr.Int(4), q.attr("hidden_size"));
    assertEquals(List.of("Y", "Y_h", "Y_c"), q.outputs().stream().map(Value::name).toList());
  }

  @Test
  void perChannelLstmScalesAreOnePerGateRow() {
    Graph g = QuantizeGraphs.lstm(3, 4, "forward");
    Quantizer.quantize(g, PER_CHANNEL, 17);
    Node q = QuantizeGraphs.only(g, Node.MS, "DynamicQuantizeLSTM");
    for (int i = 8; i < 12; i++) assertArrayEquals(new long[] {1, 16}, q.input(i).constant().shape());
  }

  @Test
  void batchMajorLstmIsKept() {
    Graph g = QuantizeGraphs.lstm(3, 4, "forward");
    QuantizeGraphs.only(g, Node.ONNX, "LSTM").set("layout", new Attr.Int(1));
    QuantizationReport r = Quantizer.quantize(g, PER_TENSOR, 17);
    assertEquals(1, g.count("LSTM"));
    assertTrue(r.kept().get(0).reason().startsWith("layout=1"), r.format());
  }

  @Test
  void embeddingPerTensorIsAnInt8GatherTimesItsScale() {
    Graph g = QuantizeGraphs.embedding(8192, 8);
    Quantizer.quantize(g, PER_TENSOR, 17);
    Node gather = QuantizeGraphs.only(g, Node.ONNX, "Gather");
    assertEquals(DType.INT8, gather.input(0).constant().dtype());
    assertArrayEquals(new long[] {8192, 8}, gather.input(0).constant().shape());
    Node cast = QuantizeGraphs.only(g, Node.ONNX, "Cast");
    assertSame(gather.output(0), cast.input(0));
    Node mul = QuantizeGraphs.only(g, Node.ONNX, "Mul");
    assertSame(cast.output(0), mul.input(0));
    assertEquals(0, mul.input(1).constant().rank(), "one scale for the table");
    assertEquals("y", mul.output(0).name());
    assertEquals(0, g.count("DequantizeLinear"), "ONNX Runtime 1.23 aborts on it where the embeddings reach a Loop");
  }

  @Test
  void embeddingPerChannelScalesEachRow() {
    Graph g = QuantizeGraphs.embedding(8192, 8);
    Tensor table = g.constants().get(0).constant();
    Quantizer.quantize(g, PER_CHANNEL, 17);
    assertEquals(2, g.count("Gather"), "rows and their scales");
    assertEquals(1, g.count("Mul"));
    Tensor q = null, scales = null;
    for (Value c : g.constants()) {
      if (c.constant().dtype() == DType.INT8 && c.constant().rank() == 2) q = c.constant();
      if (c.constant().dtype() == DType.FLOAT && c.constant().rank() == 1) scales = c.constant();
    }
    assertArrayEquals(new long[] {8192}, scales.shape());
    for (int r = 0; r < 8192; r += 37) {
      for (int c = 0; c < 8; c++) {
        assertEquals(table.getDouble(r * 8 + c), q.getDouble(r * 8 + c) * scales.getDouble(r), scales.getDouble(r) / 2 + 1e-7);
      }
    }
  }

  @Test
  void smallTablesStayFp32() {
    Graph g = QuantizeGraphs.embedding(100, 8);
    QuantizationReport r = Quantizer.quantize(g, PER_TENSOR, 17);
    assertEquals(DType.FLOAT, QuantizeGraphs.only(g, Node.ONNX, "Gather").input(0).constant().dtype());
    assertEquals("table of 800 elements, under 65536", r.kept().get(0).reason());
  }

  @Test
  void excludedNodesStayFp32AndAreReported() {
    Graph g = QuantizeGraphs.matMul(16, 8, true);
    QuantizationReport r = Quantizer.quantize(g, PER_TENSOR.withExclude(List.of("layer")), 17);
    assertEquals(1, g.count("MatMul"));
    assertEquals(0, r.quantized().size());
    assertEquals("excluded by --exclude layer", r.kept().get(0).reason());
  }

  @Test
  void standardOpsEmitTheMatMulIntegerChainAndKeepLstms() {
    Graph g = QuantizeGraphs.matMul(16, 8, true);
    Quantizer.quantize(g, PER_TENSOR.withStandardOps(true), 17);
    assertEquals(1, g.count("DynamicQuantizeLinear"));
    assertEquals(1, g.count("MatMulInteger"));
    assertEquals(1, g.count("Cast"));
    assertEquals(2, g.count("Mul"));
    assertEquals(1, g.count("Add"));
    assertTrue(g.opHistogram().keySet().stream().noneMatch(k -> k.startsWith("com.microsoft")), g.opHistogram().toString());

    Graph lstm = QuantizeGraphs.lstm(3, 4, "forward");
    QuantizationReport r = Quantizer.quantize(lstm, PER_TENSOR.withStandardOps(true), 17);
    assertEquals(1, lstm.count("LSTM"));
    assertTrue(r.kept().get(0).reason().startsWith("standard ONNX has no int8 LSTM"), r.format());
  }

  @Test
  void weightsInLoopBodiesAreQuantizedOnceIntoTheOuterGraph() {
    Graph g = new Graph("loop");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(2, 8));
    Value w = g.addConstant("R", Tensor.ofFloats(new long[] {8, 8}, QuantizeGraphs.random(3, 64, 0.1)));
    Graph body = g.newSubgraph("body");
    body.addInput("iter", DType.INT64, Shape.SCALAR);
    Value cond = body.addInput("cond", DType.BOOL, Shape.SCALAR);
    Value h = body.addInput("h", DType.FLOAT, Shape.of(2, 8));
    Value p1 = QuantizeGraphs.node(body, Node.ONNX, "MatMul", "step/MatMul", List.of(h, w), 1).output(0);
    Value p2 = QuantizeGraphs.node(body, Node.ONNX, "MatMul", "step/MatMul_1", List.of(p1, w), 1).output(0);
    Value next = QuantizeGraphs.node(body, Node.ONNX, "Tanh", "step/Tanh", List.of(p2), 1).output(0);
    body.addOutput(cond);
    body.addOutput(next);
    Node loop = g.addNode(Node.ONNX, "Loop", "loop", null,
        List.of(g.addConstant("M", Tensor.scalarLong(3)), g.addConstant("c", Tensor.ofBools(new long[0], true)), x), 1);
    loop.set("body", new Attr.GraphVal(body));
    loop.output(0).setDtype(DType.FLOAT);
    QuantizeGraphs.output(g, loop.output(0), "y");

    QuantizationReport r = Quantizer.quantize(g, PER_TENSOR, 17);
    assertEquals(2, body.count("com.microsoft.DynamicQuantizeMatMul"));
    assertTrue(body.constants().isEmpty(), "constants live in the outer graph");
    assertEquals(1, g.constants().stream().filter(c -> c.constant().dtype() == DType.INT8).count(), "one int8 copy of R");
    assertEquals(2, r.quantized().size());
  }
}
