package returnn.onnx.quantize;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/** Small ONNX-level graphs with constant weights, one per quantization rule. */
final class QuantizeGraphs {
  private QuantizeGraphs() {}

  static float[] random(long seed, int n, double std) {
    Random r = new Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * std);
    return v;
  }

  /** x [B,T,K] → MatMul by a constant W [K,N] (→ Add of a constant [N]) → y. */
  static Graph matMul(int k, int n, boolean bias) {
    Graph g = new Graph("matmul");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("batch"), Dim.sym("time"), Dim.of(k)));
    Value w = g.addConstant("layer/W", Tensor.ofFloats(new long[] {k, n}, random(1, k * n, 0.1)));
    Value y = node(g, Node.ONNX, "MatMul", "layer/dot/MatMul", List.of(x, w), 1).output(0);
    if (bias) y = node(g, Node.ONNX, "Add", "layer/add", List.of(y, g.addConstant("layer/b", Tensor.ofFloats(new long[] {n}, random(2, n, 0.1)))), 1).output(0);
    return output(g, y, "y");
  }

  /** x [M,K] → Gemm(x, B, C) with B [K,N] or [N,K] (transB) and C as given (null: no C). */
  static Graph gemm(int k, int n, boolean transB, float alpha, float beta, long[] cShape) {
    Graph g = new Graph("gemm");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("m"), Dim.of(k)));
    Value b = g.addConstant("B", Tensor.ofFloats(transB ? new long[] {n, k} : new long[] {k, n}, random(3, k * n, 0.1)));
    List<Value> in = new ArrayList<>(List.of(x, b));
    if (cShape != null) in.add(g.addConstant("C", Tensor.ofFloats(cShape, random(4, (int) Tensor.count(cShape), 0.1))));
    Node gemm = node(g, Node.ONNX, "Gemm", "gemm", in, 1);
    gemm.set("transB", new Attr.Int(transB ? 1 : 0)).set("alpha", new Attr.Float(alpha)).set("beta", new Attr.Float(beta));
    return output(g, gemm.output(0), "y");
  }

  /**
   * x [T,B,I] → ONNX LSTM (W [D,4H,I], R [D,4H,H], B [D,8H], sequence_lens) → Y, Y_h and Y_c as outputs. Weights are
   * scaled so gates are neither saturated nor linear.
   */
  static Graph lstm(int input, int hidden, String direction) {
    int d = direction.equals("bidirectional") ? 2 : 1;
    Graph g = new Graph("lstm");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("time"), Dim.sym("batch"), Dim.of(input)));
    Value lens = g.addInput("lengths", DType.INT32, Shape.of(Dim.sym("batch")));
    Value w = g.addConstant("W", Tensor.ofFloats(new long[] {d, 4L * hidden, input}, random(5, d * 4 * hidden * input, 0.3)));
    Value r = g.addConstant("R", Tensor.ofFloats(new long[] {d, 4L * hidden, hidden}, random(6, d * 4 * hidden * hidden, 0.3)));
    Value b = g.addConstant("B", Tensor.ofFloats(new long[] {d, 8L * hidden}, random(7, d * 8 * hidden, 0.1)));
    Node lstm = node(g, Node.ONNX, "LSTM", "lstm0/rec", Arrays.asList(x, w, r, b, lens), 3);
    lstm.set("hidden_size", new Attr.Int(hidden)).set("direction", new Attr.Str(direction));
    String[] names = {"Y", "Y_h", "Y_c"};
    for (int i = 0; i < 3; i++) {
      lstm.output(i).setDtype(DType.FLOAT);
      output(g, lstm.output(i), names[i]);
    }
    return g;
  }

  /** ids [B,T] int32 → Gather of a constant table [V,E] → y [B,T,E]. */
  static Graph embedding(int vocab, int dim) {
    Graph g = new Graph("embedding");
    Value ids = g.addInput("ids", DType.INT32, Shape.of(Dim.sym("batch"), Dim.sym("time")));
    float[] table = random(8, vocab * dim, 0.1);
    // Rows of very different norms, as trained embeddings have (frequent tokens get larger vectors).
    for (int r = 0; r < vocab; r++) for (int c = 0; c < dim; c++) table[r * dim + c] *= 1 + r % 7;
    Value t = g.addConstant("input/W", Tensor.ofFloats(new long[] {vocab, dim}, table));
    return output(g, node(g, Node.ONNX, "Gather", "input/embedding_lookup", List.of(t, ids), 1).output(0), "y");
  }

  static Node node(Graph g, String domain, String op, String name, List<Value> in, int outs) {
    Node n = g.addNode(domain, op, name, name, in, outs);
    n.output(0).setDtype(DType.FLOAT);
    return n;
  }

  static Graph output(Graph g, Value v, String name) {
    v.setName(name);
    g.addOutput(v);
    return g;
  }

  static Node only(Graph g, String domain, String op) {
    Node found = null;
    for (Node n : g.allNodes()) {
      if (!n.is(domain, op)) continue;
      if (found != null) throw new AssertionError("two " + op + " nodes in " + g.opHistogram());
      found = n;
    }
    if (found == null) throw new AssertionError("no " + op + " in " + g.opHistogram());
    return found;
  }
}
