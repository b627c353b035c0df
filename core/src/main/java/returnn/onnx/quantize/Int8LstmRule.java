package returnn.onnx.quantize;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * ONNX {@code LSTM} with constant W and R → {@code com.microsoft.DynamicQuantizeLSTM}: the same inputs 0-7 and
 * attributes, then W_scale, W_zero_point, R_scale, R_zero_point. Its weights are the transposes of ONNX LSTM's, per
 * direction: W [D, input, 4H] and R [D, H, 4H] (gates still i, o, f, c), because ONNX Runtime feeds them to its int8
 * GEMM as the right-hand [K,N] operand (quantization_defs.cc). Scales are [D] per tensor or [D, 4H] per gate row.
 * There is no {@code layout} attribute: only time-major X, which is what the fusion rules emit.
 */
final class Int8LstmRule extends NodeRule {
  static final String OP = "com.microsoft.DynamicQuantizeLSTM";
  private final QuantizeContext qc;

  Int8LstmRule(QuantizeContext qc) {
    super("Quantize.LSTM", true);
    this.qc = qc;
  }

  @Override
  protected boolean visit(Graph root, Node n, RuleContext ctx) {
    if (!n.isOnnx("LSTM")) return false;
    String why = qc.options.standardOps() ? "standard ONNX has no int8 LSTM (without --standard-ops it becomes " + OP + ")"
        : QuantizeContext.floatConstant(n.input(1), 3) == null || QuantizeContext.floatConstant(n.input(2), 3) == null
            ? "W or R is not a constant float tensor"
            : n.intAttr("layout", 0) != 0 ? "layout=1 (batch-major); DynamicQuantizeLSTM is time-major only" : null;
    if (why != null) {
      qc.report.kept(n.name(), n.op(), why);
      return false;
    }
    if (qc.excluded(n)) return false;
    rewrite(n);
    return true;
  }

  private void rewrite(Node n) {
    Graph g = n.graph();
    long[] ws = n.input(1).constant().shape(), rs = n.input(2).constant().shape();
    int d = (int) ws[0], gates = (int) ws[1];
    QuantizeContext.Constants w = transposed(g, n.input(1), "lstm-W");
    QuantizeContext.Constants r = transposed(g, n.input(2), "lstm-R");
    List<Value> in = new ArrayList<>(Arrays.asList(n.input(0), w.values(), r.values(), n.input(3), n.input(4), n.input(5),
        n.input(6), n.input(7), w.scales(), w.zeroPoints(), r.scales(), r.zeroPoints()));
    Node q = g.addNode(Node.MS, "DynamicQuantizeLSTM", n.name() + "/DynamicQuantizeLSTM", n.tfName(), in, 3);
    for (Map.Entry<String, Attr> a : n.attrs().entrySet()) if (!a.getKey().equals("layout")) q.set(a.getKey(), a.getValue());
    // A model read from a file may list fewer outputs: unused trailing ones are dropped when written.
    for (int i = 0; i < n.outputs().size(); i++) QuantizeContext.replace(g, n.output(i), q.output(i));
    g.removeNode(n);
    qc.report.quantized(n.name(), "LSTM", OP, "W " + QuantizedMatMul.shape(d, ws[2], gates) + ", R "
        + QuantizedMatMul.shape(d, rs[2], gates), n.input(1).constant().byteSize() + n.input(2).constant().byteSize(),
        w.byteSize() + r.byteSize());
  }

  /** [D, 4H, K] float → int8 [D, K, 4H] with per-direction or per-gate-row scales. */
  private QuantizeContext.Constants transposed(Graph g, Value weight, String layout) {
    long[] s = weight.constant().shape();
    int d = (int) s[0], gates = (int) s[1], k = (int) s[2];
    boolean perChannel = qc.options.perChannel();
    return qc.constants(g, weight, layout, new long[] {d, k, gates}, perChannel ? new long[] {d, gates} : new long[] {d}, () -> {
      float[] v = QuantizeContext.floats(weight);
      Int8Matrix[] parts = new Int8Matrix[d];
      for (int dir = 0; dir < d; dir++) {
        float[] kn = new float[k * gates];
        int base = dir * gates * k;
        for (int row = 0; row < gates; row++) {
          for (int c = 0; c < k; c++) kn[c * gates + row] = v[base + row * k + c];
        }
        parts[dir] = Int8Matrix.quantize(kn, k, gates, perChannel, qc.options.qmax());
      }
      return parts;
    });
  }
}
