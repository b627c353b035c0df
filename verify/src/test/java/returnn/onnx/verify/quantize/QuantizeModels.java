package returnn.onnx.verify.quantize;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.io.OnnxWriter;
import returnn.onnx.quantize.QuantizationReport;
import returnn.onnx.quantize.QuantizeOptions;
import returnn.onnx.quantize.Quantizer;
import returnn.onnx.runtime.OnnxSession;

/** Small fp32 ONNX models with constant weights, run in ONNX Runtime before and after quantization. */
final class QuantizeModels {
  private QuantizeModels() {}

  static final int OPSET = 17;

  /** Outputs of the fp32 model and of its quantized copy on the same feeds. */
  record Run(Map<String, Tensor> fp32, Map<String, Tensor> int8, Graph quantized, QuantizationReport report) {}

  static Run run(Supplier<Graph> model, QuantizeOptions o, Map<String, Tensor> feeds) {
    Map<String, Tensor> fp32 = ort(model.get(), feeds);
    Graph g = model.get();
    QuantizationReport r = Quantizer.quantize(g, o, OPSET);
    return new Run(fp32, ort(g, feeds), g, r);
  }

  static Map<String, Tensor> ort(Graph g, Map<String, Tensor> feeds) {
    byte[] bytes = OnnxWriter.toModel(g, OPSET, Map.of()).toByteArray();
    try (OnnxSession s = OnnxSession.open(bytes, OnnxSession.Options.singleThread())) {
      return s.run(feeds);
    }
  }

  static float[] random(long seed, int n, double std) {
    Random r = new Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * std);
    return v;
  }

  static Map<String, Tensor> feeds(Object... kv) {
    Map<String, Tensor> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], (Tensor) kv[i + 1]);
    return m;
  }

  /** x [B,T,K] → MatMul by a constant W [K,N] (column norms differing 8x) → Add of a constant [N] → y. */
  static Graph matMul(int k, int n) {
    Graph g = new Graph("matmul");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("batch"), Dim.sym("time"), Dim.of(k)));
    float[] w = random(1, k * n, 0.1);
    for (int r = 0; r < k; r++) for (int c = 0; c < n; c++) w[r * n + c] *= 1 + c % 8;
    Value y = node(g, Node.ONNX, "MatMul", "layer/MatMul", List.of(x, g.addConstant("W", Tensor.ofFloats(new long[] {k, n}, w))), 1);
    y = node(g, Node.ONNX, "Add", "layer/add", List.of(y, g.addConstant("b", Tensor.ofFloats(new long[] {n}, random(2, n, 0.1)))), 1);
    return output(g, y, "y");
  }

  /** {@link #matMul} with its output times the constant scalar {@code factor} (a Conformer's half-step scaling). */
  static Graph scaledMatMul(int k, int n, float factor) {
    Graph g = matMul(k, n);
    Value sum = g.outputs().get(0);
    sum.setName("sum");
    Value y = node(g, Node.ONNX, "Mul", "layer/scale", List.of(g.addConstant("factor", Tensor.scalarFloat(factor)), sum), 1);
    g.setOutput(0, y);
    y.setName("y");
    return g;
  }

  /** x [M,K] → Gemm(x, B [N,K] transposed, C [N]; alpha 0.5, beta 2) → y. */
  static Graph gemm(int k, int n) {
    Graph g = new Graph("gemm");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("m"), Dim.of(k)));
    Value b = g.addConstant("B", Tensor.ofFloats(new long[] {n, k}, random(3, k * n, 0.2)));
    Value c = g.addConstant("C", Tensor.ofFloats(new long[] {n}, random(4, n, 0.2)));
    Node gemm = g.addNode(Node.ONNX, "Gemm", "gemm", null, List.of(x, b, c), 1);
    gemm.set("transB", new Attr.Int(1)).set("alpha", new Attr.Float(0.5f)).set("beta", new Attr.Float(2f));
    gemm.output(0).setDtype(DType.FLOAT);
    return output(g, gemm.output(0), "y");
  }

  /** x [T,B,I] and lengths [B] → ONNX LSTM (W, R, B constant) → Y, Y_h, Y_c. */
  static Graph lstm(int input, int hidden, String direction) {
    int d = direction.equals("bidirectional") ? 2 : 1;
    Graph g = new Graph("lstm");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("time"), Dim.sym("batch"), Dim.of(input)));
    Value lens = g.addInput("lengths", DType.INT32, Shape.of(Dim.sym("batch")));
    double std = 1 / Math.sqrt(hidden);
    Value w = g.addConstant("W", Tensor.ofFloats(new long[] {d, 4L * hidden, input}, random(5, d * 4 * hidden * input, std)));
    Value r = g.addConstant("R", Tensor.ofFloats(new long[] {d, 4L * hidden, hidden}, random(6, d * 4 * hidden * hidden, std)));
    Value b = g.addConstant("B", Tensor.ofFloats(new long[] {d, 8L * hidden}, random(7, d * 8 * hidden, 0.1)));
    Node lstm = g.addNode(Node.ONNX, "LSTM", "lstm", null, Arrays.asList(x, w, r, b, lens), 3);
    lstm.set("hidden_size", new Attr.Int(hidden)).set("direction", new Attr.Str(direction));
    String[] names = {"Y", "Y_h", "Y_c"};
    for (int i = 0; i < 3; i++) {
      lstm.output(i).setDtype(DType.FLOAT);
      output(g, lstm.output(i), names[i]);
    }
    return g;
  }

  /** ids [B,T] → Gather of a constant table [V,E] whose rows differ in norm up to 7x → y. */
  static Graph embedding(int vocab, int dim) {
    Graph g = new Graph("embedding");
    Value ids = g.addInput("ids", DType.INT32, Shape.of(Dim.sym("batch"), Dim.sym("time")));
    float[] t = random(8, vocab * dim, 0.1);
    for (int r = 0; r < vocab; r++) for (int c = 0; c < dim; c++) t[r * dim + c] *= 1 + r % 7;
    Value table = g.addConstant("input/W", Tensor.ofFloats(new long[] {vocab, dim}, t));
    return output(g, node(g, Node.ONNX, "Gather", "input/embedding_lookup", List.of(table, ids), 1), "y");
  }

  /** h0 [B,N] → Loop of 3 steps h = tanh(h · R) with R a constant of the outer graph → final h. */
  static Graph recurrentLoop(int n) {
    Graph g = new Graph("loop");
    Value h0 = g.addInput("h0", DType.FLOAT, Shape.of(Dim.sym("batch"), Dim.of(n)));
    Value r = g.addConstant("R", Tensor.ofFloats(new long[] {n, n}, random(9, n * n, 1.5 / Math.sqrt(n))));
    Graph body = g.newSubgraph("body");
    body.addInput("iter", DType.INT64, Shape.SCALAR);
    Value cond = body.addInput("cond", DType.BOOL, Shape.SCALAR);
    Value h = body.addInput("h", DType.FLOAT, Shape.of(Dim.UNKNOWN, Dim.of(n)));
    Value next = node(body, Node.ONNX, "Tanh", "step/Tanh", List.of(node(body, Node.ONNX, "MatMul", "step/MatMul", List.of(h, r), 1)), 1);
    next.setShape(Shape.of(Dim.UNKNOWN, Dim.of(n)));
    body.addOutput(cond);
    body.addOutput(next);
    Node loop = g.addNode(Node.ONNX, "Loop", "loop", null,
        List.of(g.addConstant("M", Tensor.scalarLong(3)), g.addConstant("c", Tensor.ofBools(new long[0], true)), h0), 1);
    loop.set("body", new Attr.GraphVal(body));
    loop.output(0).setDtype(DType.FLOAT);
    return output(g, loop.output(0), "y");
  }

  static Value node(Graph g, String domain, String op, String name, List<Value> in, int outs) {
    Node n = g.addNode(domain, op, name, name, new ArrayList<>(in), outs);
    n.output(0).setDtype(DType.FLOAT);
    return n.output(0);
  }

  static Graph output(Graph g, Value v, String name) {
    v.setName(name);
    g.addOutput(v);
    return g;
  }
}
