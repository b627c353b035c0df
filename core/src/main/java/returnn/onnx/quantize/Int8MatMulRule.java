package returnn.onnx.quantize;

import java.util.ArrayList;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.Rule;
import returnn.onnx.rewrite.RuleContext;

/**
 * {@code MatMul(A, W)} with a constant float weight W [K,N] → int8 W and A quantized at run time
 * ({@link QuantizedMatMul}). Covers RETURNN's linear layers (and the output softmax layer's projection), the LSTM input
 * projections of {@code --no-fuse} models, the recurrent MatMul inside their Loop bodies, and the fused QKV and output
 * projections around MultiHeadAttention. When the product's only consumer adds a constant [N] bias, the Add becomes the
 * quantized op's bias input.
 */
final class Int8MatMulRule implements Rule {
  private final QuantizeContext qc;

  Int8MatMulRule(QuantizeContext qc) {
    this.qc = qc;
  }

  @Override
  public String name() {
    return "Quantize.MatMul";
  }

  @Override
  public int apply(Graph root, RuleContext ctx) {
    int fired = 0;
    for (Node n : new ArrayList<>(root.allNodes())) {
      if (n.graph() == null || !n.isOnnx("MatMul")) continue;
      Value w = QuantizeContext.floatConstant(n.input(1), 2);
      if (w == null) {
        qc.report.kept(n.name(), n.op(), "no constant float [K,N] weight");
        continue;
      }
      if (qc.excluded(n)) continue;
      rewrite(n, w);
      fired++;
    }
    return fired;
  }

  private void rewrite(Node n, Value w) {
    Graph g = n.graph();
    long[] s = w.constant().shape();
    int k = (int) s[0], cols = (int) s[1];
    QuantizeContext.Constants q = qc.constants(g, w, "matmul", s, qc.options.perChannel() ? new long[] {cols} : new long[0],
        () -> new Int8Matrix[] {Int8Matrix.quantize(QuantizeContext.floats(w), k, cols, qc.options.perChannel(), qc.options.qmax())});
    Node add = biasAdd(n.output(0), cols);
    Value bias = add == null ? null : otherInput(add, n.output(0));
    Value y = QuantizedMatMul.emit(qc, g, n, n.input(0), q, bias);
    Value replaced = add == null ? n.output(0) : add.output(0);
    QuantizeContext.replace(g, replaced, y);
    if (add != null) g.removeNode(add);
    g.removeNode(n);
    qc.report.quantized(n.name(), "MatMul", QuantizedMatMul.opName(qc.options) + (add != null ? " (+bias)" : ""),
        QuantizedMatMul.shape(s), w.constant().byteSize(), q.byteSize());
  }

  /** The Add that is the only consumer of {@code product} and adds a constant float [N], or null. */
  static Node biasAdd(Value product, int cols) {
    if (product.isGraphOutput() || product.uses().size() != 1) return null;
    Node add = product.uses().get(0).node();
    if (!add.isOnnx("Add") || add.inputs().size() != 2 || add.input(0) == add.input(1)) return null;
    Value bias = QuantizeContext.floatConstant(otherInput(add, product), 1);
    return bias != null && bias.constant().shape()[0] == cols ? add : null;
  }

  static Value otherInput(Node add, Value v) {
    return add.input(0) == v ? add.input(1) : add.input(0);
  }
}
