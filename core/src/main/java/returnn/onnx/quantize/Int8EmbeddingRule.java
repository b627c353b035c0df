package returnn.onnx.quantize;

import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * An embedding lookup, {@code Gather(table, ids, axis=0)} of a constant float table [V,E] by run-time ids → Gather of
 * an int8 table, Cast to float and multiplied by the scale: per tensor one scalar, per channel one scale per row (per
 * token: rows of an embedding differ in norm far more than its columns), gathered with the same ids. Not
 * {@code DequantizeLinear} (the same numbers, zero points being 0): ONNX Runtime 1.23's QDQ transformers rewrite the
 * ops after a DequantizeLinear, and where that value reaches a Loop body (a {@code --no-fuse} LSTM reading the
 * embeddings) session creation aborts the whole process (a failed vector index assertion), measured. The table shrinks 4x; the lookup itself costs about the same. Always the full int8 range:
 * no integer GEMM reads the table, so the saturation that {@link QuantizeOptions.Range} guards against cannot
 * occur, and the embedding's rounding error goes straight into every layer above it. Tables under
 * {@link #MIN_ELEMENTS} stay fp32: they save little, and a small table read many times per call (a relative-position
 * table gathered into [T,T,d] in an unfused Conformer) costs a dequantization of every element read, which made
 * ONNX Runtime 1.23 also wrap the Transposes after it in Quantize/Dequantize pairs (Conformer 1.3x slower, measured).
 */
final class Int8EmbeddingRule extends NodeRule {
  private static final int FULL_RANGE = 127;
  /** 64K elements: 256 KB in fp32. */
  static final long MIN_ELEMENTS = 1 << 16;
  private final QuantizeContext qc;

  Int8EmbeddingRule(QuantizeContext qc) {
    super("Quantize.Gather", true);
    this.qc = qc;
  }

  @Override
  protected boolean visit(Graph root, Node n, RuleContext ctx) {
    if (!n.isOnnx("Gather")) return false;
    Value table = QuantizeContext.floatConstant(n.input(0), 2);
    if (table == null || n.input(1).isConstant()) return false; // not an embedding lookup: shape and index arithmetic
    if (table.constant().size() < MIN_ELEMENTS) {
      qc.report.kept(n.name(), n.op(), "table of " + table.constant().size() + " elements, under " + MIN_ELEMENTS);
      return false;
    }
    if (n.intAttr("axis", 0) != 0) {
      qc.report.kept(n.name(), n.op(), "gathers along axis " + n.intAttr("axis", 0) + ", not rows of a table");
      return false;
    }
    if (qc.excluded(n)) return false;
    rewrite(n, table);
    return true;
  }

  private void rewrite(Node n, Value table) {
    Graph g = n.graph();
    long[] s = table.constant().shape();
    int rows = (int) s[0], cols = (int) s[1];
    boolean perRow = qc.options.perChannel();
    // Per row = per column of the transposed table: quantize [E,V] by columns, then store it back as [V,E].
    QuantizeContext.Constants q = qc.constants(g, table, "embedding", s, perRow ? new long[] {rows} : new long[0], () -> {
      float[] v = QuantizeContext.floats(table);
      if (!perRow) return new Int8Matrix[] {Int8Matrix.quantize(v, rows, cols, false, FULL_RANGE)};
      float[] t = new float[v.length];
      for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * rows + r] = v[r * cols + c];
      Int8Matrix m = Int8Matrix.quantize(t, cols, rows, true, FULL_RANGE);
      byte[] back = new byte[v.length];
      for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) back[r * cols + c] = m.values()[c * rows + r];
      return new Int8Matrix[] {new Int8Matrix(rows, cols, back, m.scales(), true)};
    });
    OnnxBuilder b = new OnnxBuilder(g, qc.opset, n.name(), n.tfName());
    Value ids = n.input(1);
    Value rowsQ = b.gather(q.values(), ids, 0);
    Value scale = perRow ? b.unsqueeze(b.gather(q.scales(), ids, 0), -1) : q.scales();
    Value y = b.op("Mul", b.cast(rowsQ, DType.FLOAT), scale);
    QuantizeContext.replace(g, n.output(0), y);
    g.removeNode(n);
    qc.report.quantized(n.name(), "Gather", perRow ? "Gather int8+Mul(row scale)" : "Gather int8+Mul(scale)",
        QuantizedMatMul.shape(s), table.constant().byteSize(), q.byteSize());
  }
}
