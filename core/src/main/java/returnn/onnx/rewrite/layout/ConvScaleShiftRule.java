package returnn.onnx.rewrite.layout;

import java.util.Arrays;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * A per-channel Mul, Add or Sub by a constant right after a Conv, folded into the Conv's weight and bias: batch norm
 * of a frozen graph (FusedBatchNorm converts to Mul + Add by constants, and freezing a non-fused batch norm leaves
 * the same two ops), and BiasAdd. They sit after the Conv's NCHW output once {@link TransposePushRule} moved the
 * NCHW→NHWC Transpose past them, their constants transposed to [1,M,1,1]. {@code Conv(x,W,b)·k} is
 * {@code Conv(x, W·k[o], b·k)} and {@code Conv(x,W,b) ± k} is {@code Conv(x, W, b ± k)}: exact up to float rounding.
 */
final class ConvScaleShiftRule extends NodeRule {
  static final String NAME = "LayoutRules.FOLD_CONV_SCALE_SHIFT";

  ConvScaleShiftRule() {
    super(NAME, false);
  }

  @Override
  protected boolean visit(Graph g, Node op, RuleContext ctx) {
    if (!op.isOnnx("Mul") && !op.isOnnx("Add") && !op.isOnnx("Sub")) return false;
    for (int k = 0; k < 2; k++) {
      Value c = op.input(k);
      Node conv = c.producer();
      if (conv == null || !conv.isOnnx("Conv") || conv.graph() != g) continue;
      if (op.isOnnx("Sub") && k != 0) continue; // k − Conv would negate the weights as well
      Tensor factor = op.input(1 - k).constant();
      if (factor == null) continue;
      String reason = check(conv, c, factor);
      if (reason != null) {
        ctx.decline(NAME, op.describe(), reason);
        return false;
      }
      fold(g, conv, op, perChannel(factor, conv.input(1).constant().shape()[0]));
      g.replaceAllUses(op.output(0), c);
      g.removeNode(op);
      return true;
    }
    return false;
  }

  private static String check(Node conv, Value c, Tensor factor) {
    if (c.useCount() != 1 || c.isGraphOutput()) return "the Conv output " + c.name() + " has other uses";
    Tensor w = conv.input(1).constant();
    if (w == null || w.dtype() != DType.FLOAT || factor.dtype() != DType.FLOAT) return "Conv weight is not a float constant";
    if (conv.inputs().size() > 2 && conv.input(2) != null && !conv.input(2).isConstant()) return "Conv bias is not constant";
    if (!c.shape().hasRank()) return "Conv output rank unknown";
    int rank = c.shape().rank();
    long[] s = factor.shape();
    if (s.length > rank) return "constant " + Arrays.toString(s) + " has a higher rank than the Conv output";
    long m = w.shape()[0];
    for (int i = 0; i < s.length; i++) {
      int axis = rank - s.length + i;
      if (s[i] != 1 && !(axis == 1 && s[i] == m)) return "constant " + Arrays.toString(s) + " is not per output channel";
    }
    return null;
  }

  /** The constant as one value per output channel (broadcast when it has one element). */
  private static float[] perChannel(Tensor factor, long m) {
    float[] v = factor.toFloats();
    float[] k = new float[(int) m];
    for (int o = 0; o < m; o++) k[o] = v.length == 1 ? v[0] : v[o];
    return k;
  }

  private static void fold(Graph g, Node conv, Node op, float[] k) {
    Tensor w = conv.input(1).constant();
    int m = k.length;
    float[] bias = conv.inputs().size() > 2 && conv.input(2) != null ? conv.input(2).constant().toFloats() : new float[m];
    String base = conv.name() + "/folded";
    if (op.isOnnx("Mul")) {
      float[] wv = w.toFloats();
      int per = wv.length / m;
      for (int i = 0; i < wv.length; i++) wv[i] *= k[i / per];
      for (int o = 0; o < m; o++) bias[o] *= k[o];
      g.setInput(conv, 1, g.addConstant(base + "_weight", Tensor.ofFloats(w.shape(), wv)));
    } else {
      float sign = op.isOnnx("Sub") ? -1 : 1;
      for (int o = 0; o < m; o++) bias[o] += sign * k[o];
    }
    g.setInput(conv, 2, g.addConstant(base + "_bias", Tensor.ofFloats(new long[] {m}, bias)));
  }
}
