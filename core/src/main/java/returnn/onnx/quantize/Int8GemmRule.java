package returnn.onnx.quantize;

import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * {@code Gemm(A, B, C; alpha, beta, transA=0, transB)} with a constant float B → the quantized MatMul of A by
 * {@code alpha · op(B)} (B transposed first when {@code transB}, alpha folded into the weights before quantizing), with
 * {@code beta · C} as the bias input when C is a constant [N] or [1,N], and as an Add after it otherwise.
 */
final class Int8GemmRule extends NodeRule {
  private final QuantizeContext qc;

  Int8GemmRule(QuantizeContext qc) {
    super("Quantize.Gemm", true);
    this.qc = qc;
  }

  @Override
  protected boolean visit(Graph root, Node n, RuleContext ctx) {
    if (!n.isOnnx("Gemm")) return false;
    Value w = QuantizeContext.floatConstant(n.input(1), 2);
    if (w == null || n.intAttr("transA", 0) != 0) {
      qc.report.kept(n.name(), n.op(), w == null ? "no constant float B" : "transA=1 (A would need a Transpose)");
      return false;
    }
    if (qc.excluded(n)) return false;
    rewrite(n, w);
    return true;
  }

  private void rewrite(Node n, Value w) {
    Graph g = n.graph();
    boolean transB = n.intAttr("transB", 0) != 0;
    float alpha = n.floatAttr("alpha", 1f), beta = n.floatAttr("beta", 1f);
    long[] s = w.constant().shape();
    int k = (int) (transB ? s[1] : s[0]), cols = (int) (transB ? s[0] : s[1]);
    QuantizeContext.Constants q = qc.constants(g, w, "gemm transB=" + transB + " alpha=" + alpha, new long[] {k, cols},
        qc.options.perChannel() ? new long[] {cols} : new long[0],
        () -> new Int8Matrix[] {Int8Matrix.quantize(scaledKxN(w, transB, alpha), k, cols, qc.options.perChannel(), qc.options.qmax())});
    Value c = n.input(2);
    Value bias = isVectorBias(c, cols) ? vectorBias(g, c, beta, cols) : null;
    Value y = QuantizedMatMul.emit(qc, g, n, n.input(0), q, bias);
    if (c != null && bias == null && beta != 0f) {
      OnnxBuilder b = new OnnxBuilder(g, qc.opset, n.name(), n.tfName());
      y = b.op("Add", y, beta == 1f ? c : b.op("Mul", c, b.scalar(DType.FLOAT, beta)));
    }
    QuantizeContext.replace(g, n.output(0), y);
    g.removeNode(n);
    qc.report.quantized(n.name(), "Gemm", QuantizedMatMul.opName(qc.options) + (bias != null ? " (+bias)" : ""),
        QuantizedMatMul.shape(k, cols), w.constant().byteSize(), q.byteSize());
  }

  /** alpha · B (or Bᵀ) as a row-major [K,N] array. */
  private static float[] scaledKxN(Value b, boolean transB, float alpha) {
    float[] v = QuantizeContext.floats(b);
    long[] s = b.constant().shape();
    int rows = (int) s[0], cols = (int) s[1];
    float[] out = new float[v.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) out[transB ? c * rows + r : r * cols + c] = alpha * v[r * cols + c];
    }
    return out;
  }

  /** A constant float [N] or [1,N]: the bias input of the quantized op. */
  private static boolean isVectorBias(Value c, int cols) {
    if (c == null || !c.isConstant() || c.constant().dtype() != DType.FLOAT || c.constant().size() != cols) return false;
    long[] s = c.constant().shape();
    return s.length == 1 || (s.length == 2 && s[0] == 1);
  }

  private static Value vectorBias(Graph g, Value c, float beta, int cols) {
    float[] v = c.constant().toFloats();
    if (beta == 1f && c.constant().rank() == 1) return c;
    for (int i = 0; i < v.length; i++) v[i] *= beta;
    return QuantizeContext.root(g).addConstant(c.name() + "_bias", Tensor.ofFloats(new long[] {cols}, v));
  }
}
