package returnn.onnx.eval;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;

/**
 * Shapes of the neural-network ops: MatMul, Conv and pooling, and the normalizations and softmaxes that keep their
 * input's shape. The recurrent ops (LSTM, GRU) have no rule: their output shapes stay unknown unless the code that emits them
 * sets them.
 */
final class NnShapes {
  private NnShapes() {}

  static void register(ShapeRuleTable t) {
    t.put((n, x, opset) -> x, "Softmax", "LogSoftmax", "Hardmax", "Dropout", "LayerNormalization",
        "BatchNormalization");
    t.put(NnShapes::matmul, "MatMul", "MatMulInteger");
    t.put((n, x, opset) -> conv(n, x, n.inputs().size() > 1 && n.input(1) != null ? n.input(1).shape() : null),
        "Conv", "MaxPool", "AveragePool");
    t.put((n, x, opset) -> x.hasRank() ? Shapes.unknownOfRank(x.rank()) : null, "ConvTranspose");
  }

  /** [.., M, K] x [.., K, N]: the batch dims broadcast, then [M, N]. */
  static Shape matmul(Node n, Shape a, int opset) {
    Shape b = n.input(1).shape();
    if (!a.hasRank() || !b.hasRank()) return null;
    if (a.rank() < 2 || b.rank() < 2) return null;
    Shape ba = Shape.of(a.dims().subList(0, a.rank() - 2));
    Shape bb = Shape.of(b.dims().subList(0, b.rank() - 2));
    List<Dim> d = new ArrayList<>(Shapes.broadcast(ba, bb).dims());
    d.add(a.dim(a.rank() - 2));
    d.add(b.dim(b.rank() - 1));
    return Shape.of(d);
  }

  /** Conv/pool output: batch kept, channels from the weight (Conv) or the input, spatial sizes from the pads. */
  private static Shape conv(Node n, Shape x, Shape w) {
    if (!x.hasRank()) return null;
    int sp = x.rank() - 2;
    boolean conv = n.op().equals("Conv");
    boolean wKnown = w != null && w.hasRank() && w.rank() == x.rank();
    long[] k = n.intsAttr("kernel_shape"), s = n.intsAttr("strides"), d = n.intsAttr("dilations"), p = n.intsAttr("pads");
    String auto = n.stringAttr("auto_pad", "NOTSET");
    List<Dim> out = new ArrayList<>();
    out.add(x.dim(0));
    out.add(conv ? (wKnown ? w.dim(0) : Dim.UNKNOWN) : x.dim(1));
    for (int i = 0; i < sp; i++) {
      Dim in = x.dim(2 + i);
      long ki = k != null ? k[i] : wKnown && w.dim(2 + i).isFixed() ? w.dim(2 + i).value() : -1;
      long si = s == null ? 1 : s[i], di = d == null ? 1 : d[i];
      if (!in.isFixed() || ki < 0 || n.intAttr("ceil_mode", 0) == 1) {
        out.add(Dim.UNKNOWN);
      } else if (auto.startsWith("SAME")) {
        out.add(Dim.of((in.value() + si - 1) / si));
      } else {
        long pad = auto.equals("VALID") || p == null ? 0 : p[i] + p[i + sp];
        long span = in.value() + pad - (ki - 1) * di - 1;
        out.add(span < 0 ? Dim.UNKNOWN : Dim.of(span / si + 1));
      }
    }
    return Shape.of(out);
  }
}
