package returnn.onnx.eval;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * Shapes of the ops that make, reshape, index and move data (the ops {@link DataMovement} evaluates): Constant, Shape,
 * Reshape, Transpose, Concat, Gather, Slice, Split, Pad, ... Targets given as constants give exact dims; targets known
 * only at run time give the rank where their length is fixed.
 */
final class DataMovementShapes {
  private DataMovementShapes() {}

  static void register(ShapeRuleTable t) {
    t.put((n, x, opset) -> x, "ReverseSequence", "ScatterND", "ScatterElements");
    t.put((n, x, opset) -> Shape.of(((Attr.TensorVal) n.attr("value")).value().shape()), "Constant");
    t.put(DataMovementShapes::shapeOp, "Shape");
    t.put((n, x, opset) -> Shape.SCALAR, "Size");
    t.put((n, x, opset) -> Shape.of(Dim.UNKNOWN), "Range");
    t.put(DataMovementShapes::transpose, "Transpose");
    t.put(DataMovementShapes::reshape, "Reshape");
    t.put(DataMovementShapes::unsqueeze, "Unsqueeze");
    t.put(DataMovementShapes::squeeze, "Squeeze");
    t.put(DataMovementShapes::concat, "Concat");
    t.put(DataMovementShapes::gather, "Gather");
    t.put(DataMovementShapes::gatherNd, "GatherND");
    t.put(DataMovementShapes::expand, "Expand");
    t.put(DataMovementShapes::constantOfShape, "ConstantOfShape");
    t.put(DataMovementShapes::slice, "Slice");
    t.put(DataMovementShapes::tile, "Tile");
    t.put(DataMovementShapes::oneHot, "OneHot");
    t.put(DataMovementShapes::pad, "Pad");
    t.put(DataMovementShapes::flatten, "Flatten");
    t.put((n, x, opset) -> x.hasRank() ? Shape.of(Dim.of(x.rank()), Dim.UNKNOWN) : null, "NonZero");
    t.putOutputs(DataMovementShapes::split, "Split");
  }

  private static Shape shapeOp(Node n, Shape s0, int opset) {
    if (!s0.hasRank()) return Shape.of(Dim.UNKNOWN);
    int r = s0.rank();
    int start = Shapes.shapeBound(n.intAttr("start", 0), r), end = Shapes.shapeBound(n.intAttr("end", r), r);
    return Shape.of(Math.max(0, end - start));
  }

  private static Shape transpose(Node n, Shape s0, int opset) {
    if (!s0.hasRank()) return null;
    long[] perm = n.intsAttr("perm");
    List<Dim> d = new ArrayList<>();
    for (int i = 0; i < s0.rank(); i++) d.add(s0.dim(perm == null ? s0.rank() - 1 - i : (int) perm[i]));
    return Shape.of(d);
  }

  private static Shape reshape(Node n, Shape s0, int opset) {
    Tensor t = n.input(1).constant();
    if (t == null) {
      Shape ts = n.input(1).shape();
      return ts.hasRank() && ts.dim(0).isFixed() ? Shapes.unknownOfRank((int) ts.dim(0).value()) : null;
    }
    long[] target = t.toLongs();
    List<Dim> d = new ArrayList<>();
    boolean allowZero = n.intAttr("allowzero", 0) == 1;
    int minus = -1;
    for (int i = 0; i < target.length; i++) {
      if (target[i] == 0 && !allowZero) d.add(s0.hasRank() ? s0.dim(i) : Dim.UNKNOWN);
      else if (target[i] == -1) {
        minus = i;
        d.add(Dim.UNKNOWN);
      } else d.add(Dim.of(target[i]));
    }
    // With a fully known input the -1 follows; otherwise ([B, T, F] to [-1, F], [B*T, F] back to [B, -1, F]) it is
    // a product or quotient of symbolic dims, which a Dim cannot hold: unknown.
    if (minus >= 0 && s0.isFullyKnown()) {
      long known = 1;
      for (int i = 0; i < d.size(); i++) if (i != minus) known = d.get(i).isFixed() ? known * d.get(i).value() : -1;
      if (known > 0) d.set(minus, Dim.of(s0.elementCount() / known));
    }
    return Shape.of(d);
  }

  private static Shape unsqueeze(Node n, Shape s0, int opset) {
    long[] axes = Shapes.axesOf(n, opset, 13);
    if (axes == null || !s0.hasRank()) return null;
    int r = s0.rank() + axes.length;
    boolean[] ins = new boolean[r];
    for (long a : axes) ins[Shapes.normAxis(a, r)] = true;
    List<Dim> d = new ArrayList<>();
    int k = 0;
    for (int i = 0; i < r; i++) d.add(ins[i] ? Dim.of(1) : s0.dim(k++));
    return Shape.of(d);
  }

  private static Shape squeeze(Node n, Shape s0, int opset) {
    if (!s0.hasRank()) return null;
    long[] axes = Shapes.axesOf(n, opset, 13);
    if (axes == null) {
      List<Dim> d = new ArrayList<>();
      for (Dim x : s0.dims()) {
        if (!x.isFixed()) return null;
        if (x.value() != 1) d.add(x);
      }
      return Shape.of(d);
    }
    boolean[] drop = new boolean[s0.rank()];
    for (long a : axes) drop[Shapes.normAxis(a, s0.rank())] = true;
    List<Dim> d = new ArrayList<>();
    for (int i = 0; i < drop.length; i++) if (!drop[i]) d.add(s0.dim(i));
    return Shape.of(d);
  }

  private static Shape concat(Node n, Shape s0, int opset) {
    if (!s0.hasRank()) return null;
    int axis = Shapes.normAxis(n.intAttr("axis", 0), s0.rank());
    long total = 0;
    List<Dim> d = new ArrayList<>(s0.dims());
    for (Value v : n.inputs()) {
      if (!v.shape().hasRank()) return Shapes.unknownOfRank(s0.rank());
      Dim a = v.shape().dim(axis);
      total = total >= 0 && a.isFixed() ? total + a.value() : -1;
      for (int i = 0; i < d.size(); i++) if (i != axis && !d.get(i).isFixed()) d.set(i, Shapes.broadcastDim(d.get(i), v.shape().dim(i)));
    }
    d.set(axis, Dim.of(total));
    return Shape.of(d);
  }

  private static Shape gather(Node n, Shape s0, int opset) {
    Shape si = n.input(1).shape();
    if (!s0.hasRank() || !si.hasRank()) return null;
    int axis = Shapes.normAxis(n.intAttr("axis", 0), s0.rank());
    List<Dim> d = new ArrayList<>(s0.dims().subList(0, axis));
    d.addAll(si.dims());
    d.addAll(s0.dims().subList(axis + 1, s0.rank()));
    return Shape.of(d);
  }

  /** indices.shape[:-1] + data.shape[batch_dims + k:], k = indices.shape[-1]. */
  private static Shape gatherNd(Node n, Shape s0, int opset) {
    Shape si = n.input(1).shape();
    if (!s0.hasRank() || !si.hasRank() || si.rank() == 0 || !si.dim(-1).isFixed()) return null;
    int from = (int) (n.intAttr("batch_dims", 0) + si.dim(-1).value());
    List<Dim> d = new ArrayList<>(si.dims().subList(0, si.rank() - 1));
    d.addAll(s0.dims().subList(from, s0.rank()));
    return Shape.of(d);
  }

  private static Shape expand(Node n, Shape s0, int opset) {
    Tensor t = n.input(1).constant();
    if (t == null) {
      Shape ts = n.input(1).shape();
      if (!s0.hasRank() || !ts.hasRank() || !ts.dim(0).isFixed()) return null;
      return Shapes.unknownOfRank((int) Math.max(s0.rank(), ts.dim(0).value()));
    }
    return Shapes.broadcast(s0, Shape.of(t.toLongs()));
  }

  private static Shape constantOfShape(Node n, Shape s0, int opset) {
    Tensor t = n.input(0).constant();
    if (t != null) return Shape.of(t.toLongs());
    Shape si = n.input(0).shape();
    return si.hasRank() && si.dim(0).isFixed() ? Shapes.unknownOfRank((int) si.dim(0).value()) : null;
  }

  private static Shape slice(Node n, Shape s0, int opset) {
    List<Value> in = n.inputs();
    if (!s0.hasRank()) return null;
    List<Dim> d = new ArrayList<>(s0.dims());
    Tensor st = in.get(1).constant(), en = in.get(2).constant();
    Tensor ax = in.size() > 3 && in.get(3) != null ? in.get(3).constant() : null;
    Tensor sp = in.size() > 4 && in.get(4) != null ? in.get(4).constant() : null;
    boolean axesKnown = in.size() <= 3 || in.get(3) == null || ax != null;
    if (!axesKnown) return Shapes.unknownOfRank(s0.rank());
    int k = st != null ? (int) st.size() : en != null ? (int) en.size() : -1;
    if (k < 0) return Shapes.unknownOfRank(s0.rank());
    for (int j = 0; j < k; j++) {
      int a = ax == null ? j : Shapes.normAxis(ax.getLong(j), s0.rank());
      Dim dim = s0.dim(a);
      long step = sp == null ? 1 : sp.getLong(j);
      if (st == null || en == null || !dim.isFixed()) {
        long s = st == null ? 1 : st.getLong(j), e = en == null ? 0 : en.getLong(j);
        boolean whole = st != null && en != null && step == 1 && s == 0 && e >= Integer.MAX_VALUE;
        d.set(a, whole ? dim : Dim.UNKNOWN);
        continue;
      }
      long len = DataMovement.slice(NdArray.longs(DType.INT64, new long[] {dim.value()}, new long[(int) dim.value()]),
          new long[] {st.getLong(j)}, new long[] {en.getLong(j)}, null, new long[] {step}).shape[0];
      d.set(a, Dim.of(len));
    }
    return Shape.of(d);
  }

  private static Shape tile(Node n, Shape s0, int opset) {
    Tensor t = n.input(1).constant();
    if (t == null || !s0.hasRank()) return s0.hasRank() ? Shapes.unknownOfRank(s0.rank()) : null;
    long[] reps = t.toLongs();
    List<Dim> d = new ArrayList<>();
    for (int i = 0; i < s0.rank(); i++) {
      Dim x = s0.dim(i);
      d.add(reps[i] == 1 ? x : x.isFixed() ? Dim.of(x.value() * reps[i]) : Dim.UNKNOWN);
    }
    return Shape.of(d);
  }

  private static Shape oneHot(Node n, Shape s0, int opset) {
    Tensor depth = n.input(1).constant();
    if (!s0.hasRank()) return null;
    List<Dim> d = new ArrayList<>(s0.dims());
    int axis = (int) n.intAttr("axis", -1);
    int pos = axis < 0 ? d.size() + 1 + axis : axis;
    d.add(pos, depth == null ? Dim.UNKNOWN : Dim.of(depth.getLong(0)));
    return Shape.of(d);
  }

  private static Shape pad(Node n, Shape s0, int opset) {
    List<Value> in = n.inputs();
    if (!s0.hasRank()) return null;
    Tensor pads = in.size() > 1 && in.get(1) != null ? in.get(1).constant() : null;
    boolean axesGiven = in.size() > 3 && in.get(3) != null;
    if (pads == null || axesGiven || pads.size() != 2L * s0.rank()) return Shapes.unknownOfRank(s0.rank());
    List<Dim> d = new ArrayList<>();
    for (int i = 0; i < s0.rank(); i++) {
      long add = pads.getLong(i) + pads.getLong(i + s0.rank());
      Dim x = s0.dim(i);
      d.add(add == 0 ? x : x.isFixed() ? Dim.of(x.value() + add) : Dim.UNKNOWN);
    }
    return Shape.of(d);
  }

  private static Shape flatten(Node n, Shape s0, int opset) {
    if (!s0.hasRank()) return null;
    int axis = Shapes.normAxis(n.intAttr("axis", 1), s0.rank() + 1);
    long a = 1, b = 1;
    for (int i = 0; i < s0.rank(); i++) {
      Dim x = s0.dim(i);
      if (i < axis) a = a >= 0 && x.isFixed() ? a * x.value() : -1;
      else b = b >= 0 && x.isFixed() ? b * x.value() : -1;
    }
    return Shape.of(a, b);
  }

  /** Each output: the input's shape with its split size along the axis (equal parts when no sizes are given). */
  private static void split(Node n, int opset) {
    Shape s0 = n.input(0).shape();
    if (!s0.hasRank()) return;
    int axis = Shapes.normAxis(n.intAttr("axis", 0), s0.rank());
    Tensor sizes = n.input(1) != null ? n.input(1).constant() : null;
    for (int i = 0; i < n.outputs().size(); i++) {
      Dim d = Dim.UNKNOWN;
      if (sizes != null) d = Dim.of(sizes.getLong(i));
      else if (n.input(1) == null && s0.dim(axis).isFixed()) d = Dim.of(s0.dim(axis).value() / n.outputs().size());
      n.output(i).setShape(s0.withDim(axis, d));
    }
  }
}
