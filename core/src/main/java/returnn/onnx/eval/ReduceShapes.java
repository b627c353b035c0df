package returnn.onnx.eval;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/** Shapes of reductions (Reduce*, ArgMax/ArgMin) and of TopK. */
final class ReduceShapes {
  private ReduceShapes() {}

  static void register(ShapeRuleTable t) {
    t.put(ReduceShapes::reduce, "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
        "ReduceLogSumExp", "ReduceSumSquare", "ReduceL1");
    t.put(ReduceShapes::argMax, "ArgMax", "ArgMin");
    t.putOutputs(ReduceShapes::topK, "TopK");
  }

  private static Shape reduce(Node n, Shape s0, int opset) {
    if (!s0.hasRank()) return null;
    long[] axes = Shapes.axesOf(n, opset, n.op().equals("ReduceSum") ? 13 : 18);
    boolean keep = n.intAttr("keepdims", 1) == 1;
    boolean noop = n.intAttr("noop_with_empty_axes", 0) == 1;
    if (axes == null || axes.length == 0) {
      if (noop) return s0;
      List<Dim> d = new ArrayList<>();
      if (keep) for (int i = 0; i < s0.rank(); i++) d.add(Dim.of(1));
      return Shape.of(d);
    }
    boolean[] red = new boolean[s0.rank()];
    for (long a : axes) red[Shapes.normAxis(a, s0.rank())] = true;
    List<Dim> d = new ArrayList<>();
    for (int i = 0; i < red.length; i++) {
      if (!red[i]) d.add(s0.dim(i));
      else if (keep) d.add(Dim.of(1));
    }
    return Shape.of(d);
  }

  private static Shape argMax(Node n, Shape s0, int opset) {
    if (!s0.hasRank()) return null;
    int axis = Shapes.normAxis(n.intAttr("axis", 0), s0.rank());
    List<Dim> d = new ArrayList<>(s0.dims());
    if (n.intAttr("keepdims", 1) == 1) d.set(axis, Dim.of(1));
    else d.remove(axis);
    return Shape.of(d);
  }

  /** Values and indices: the input's shape with k along the axis. */
  private static void topK(Node n, int opset) {
    Shape s0 = n.input(0).shape();
    if (!s0.hasRank()) return;
    int axis = Shapes.normAxis(n.intAttr("axis", -1), s0.rank());
    Tensor k = n.input(1).constant();
    Shape s = s0.withDim(axis, k == null ? Dim.UNKNOWN : Dim.of(k.getLong(0)));
    for (Value o : n.outputs()) o.setShape(s);
  }
}
