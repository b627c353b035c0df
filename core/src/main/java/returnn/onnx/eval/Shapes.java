package returnn.onnx.eval;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/** Shape arithmetic shared by type inference and constant folding. */
public final class Shapes {
  private Shapes() {}

  /** Numpy broadcasting of two shapes; dims that cannot be decided statically become unknown. */
  public static Shape broadcast(Shape a, Shape b) {
    if (!a.hasRank() || !b.hasRank()) return Shape.UNKNOWN;
    int r = Math.max(a.rank(), b.rank());
    List<Dim> out = new ArrayList<>();
    for (int i = 0; i < r; i++) {
      int ia = i - (r - a.rank());
      int ib = i - (r - b.rank());
      Dim da = ia >= 0 ? a.dim(ia) : Dim.of(1);
      Dim db = ib >= 0 ? b.dim(ib) : Dim.of(1);
      out.add(broadcastDim(da, db));
    }
    return Shape.of(out);
  }

  static Dim broadcastDim(Dim a, Dim b) {
    if (a.isFixed() && a.value() == 1) return b;
    if (b.isFixed() && b.value() == 1) return a;
    if (a.equals(b)) return a;
    if (a.isFixed()) return a;
    if (b.isFixed()) return b;
    return Dim.UNKNOWN;
  }

  public static long[] broadcast(long[] a, long[] b) {
    int r = Math.max(a.length, b.length);
    long[] out = new long[r];
    for (int i = 0; i < r; i++) {
      long da = i - (r - a.length) >= 0 ? a[i - (r - a.length)] : 1;
      long db = i - (r - b.length) >= 0 ? b[i - (r - b.length)] : 1;
      if (da != db && da != 1 && db != 1) {
        throw new IllegalArgumentException("shapes " + java.util.Arrays.toString(a) + " and "
            + java.util.Arrays.toString(b) + " do not broadcast");
      }
      out[i] = da == 1 ? db : da;
    }
    return out;
  }

  public static int normAxis(long axis, int rank) {
    int a = (int) (axis < 0 ? axis + rank : axis);
    if (a < 0 || a >= Math.max(rank, 1)) throw new IllegalArgumentException("axis " + axis + " out of range for rank " + rank);
    return a;
  }

  /** A {@code Shape} op's start/end attr as an index in [0, rank]: negatives count from the end, then clamped. */
  public static int shapeBound(long a, int rank) {
    return (int) Math.max(0, Math.min(rank, a < 0 ? a + rank : a));
  }

  /**
   * ONNX {@code Slice}'s effective {start, end} on a dim of size {@code dim}: negatives count from the end, then both
   * are clamped to [0, dim] for a positive step and to [-1, dim - 1] for a negative one.
   */
  public static long[] sliceBounds(long dim, long s, long e, long step) {
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    long lo = step > 0 ? 0 : -1, hi = step > 0 ? dim : dim - 1;
    return new long[] {Math.max(lo, Math.min(s, hi)), Math.max(lo, Math.min(e, hi))};
  }

  /** Rank {@code r}, every dim unknown. */
  static Shape unknownOfRank(int r) {
    List<Dim> d = new ArrayList<>();
    for (int i = 0; i < r; i++) d.add(Dim.UNKNOWN);
    return Shape.of(d);
  }

  /**
   * The axes of Unsqueeze, Squeeze or a Reduce: an attribute before opset {@code inputSince}, a constant input from
   * it on (null when absent; {@link TypeInference.UnknownShape} when computed at run time).
   */
  static long[] axesOf(Node n, int opset, int inputSince) {
    if (opset >= inputSince) {
      Value a = n.input(1);
      if (a == null) return null;
      Tensor t = a.constant();
      if (t == null) throw new TypeInference.UnknownShape("dynamic axes");
      return t.toLongs();
    }
    return n.intsAttr("axes");
  }

  public static long[] strides(long[] shape) {
    long[] s = new long[shape.length];
    long acc = 1;
    for (int i = shape.length - 1; i >= 0; i--) {
      s[i] = acc;
      acc *= shape[i];
    }
    return s;
  }
}
