package returnn.onnx.eval;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * What a small integer tensor computed from shapes holds, element by element: a known number, or "axis i of value
 * v". RETURNN computes reshape targets and slice bounds from {@code tf.shape} ({@code Shape}, {@code StridedSlice},
 * {@code Pack}, casts between int32 and int64), which become chains of the ONNX ops shape arithmetic is built from:
 * Shape, Cast, Identity, Concat, Unsqueeze/Squeeze/Reshape/Flatten, Gather and Slice. Following such a chain back
 * shows, for example, that a Reshape target is {@code [dim 0 of x, dim 1 of x, 256]}; dims that are fixed in a
 * value's shape read as known numbers even though the Shape node stays. The one tracer for both levels: TF handlers
 * use it to fold partially static shape vectors and simplify Reshape targets (through
 * {@code convert.handlers.TracedVector}), ONNX rewrite rules to recognise reshapes that keep or flatten dims.
 */
public final class ShapeTrace {
  /** Vectors longer than this are not traced (shape vectors are short). */
  private static final int MAX_LEN = 64;
  private static final int MAX_DEPTH = 48;

  /**
   * One element: {@code value} when known; otherwise {@code dim} (symbolic or unknown), and, when it is a dim of a
   * tensor, that tensor and axis; {@code piece} is a 1-element value (scalar or [1], any int type) holding it.
   */
  public record Elem(Long value, Dim dim, Value src, int axis, Value piece) {
    static Elem known(long v) {
      return new Elem(v, v >= 0 ? Dim.of(v) : Dim.UNKNOWN, null, -1, null);
    }

    static final Elem UNKNOWN = new Elem(null, Dim.UNKNOWN, null, -1, null);

    public boolean isKnown() {
      return value != null;
    }

    /** Whether this is the size of axis {@code i} of {@code v}. */
    public boolean isDim(Value v, int i) {
      return src == v && axis == i;
    }

    Elem withPiece(Value p) {
      return new Elem(value, dim, src, axis, p);
    }
  }

  private ShapeTrace() {}

  /** The elements of an integer scalar or vector, or null if its length is unknown or it is not one. */
  public static List<Elem> elems(Value v) {
    return elems(v, 0, new IdentityHashMap<>());
  }

  /** The known values of {@code e}, or null if any element is not known (or {@code e} is null). */
  public static long[] knownValues(List<Elem> e) {
    if (e == null) return null;
    long[] r = new long[e.size()];
    for (int i = 0; i < r.length; i++) {
      if (!e.get(i).isKnown()) return null;
      r[i] = e.get(i).value();
    }
    return r;
  }

  /** {@code seen} memoizes per top-level call, so shared sub-expressions are traced once. */
  private static List<Elem> elems(Value v, int depth, Map<Value, List<Elem>> seen) {
    if (seen.containsKey(v)) return seen.get(v);
    List<Elem> r = compute(v, depth, seen);
    seen.put(v, r);
    return r;
  }

  private static List<Elem> compute(Value v, int depth, Map<Value, List<Elem>> seen) {
    if (v == null || v.dtype() == null || !v.dtype().isInteger()) return null;
    Tensor t = v.constant();
    if (t != null) {
      if (t.rank() > 1 || t.size() > MAX_LEN) return null;
      List<Elem> r = new ArrayList<>();
      for (long x : t.toLongs()) r.add(Elem.known(x));
      return r;
    }
    List<Elem> r = depth < MAX_DEPTH ? traced(v, depth, seen) : null;
    if (r == null) r = unknowns(v);
    if (r != null && r.size() == 1 && !r.get(0).isKnown() && (r.get(0).piece() == null || isVec1Int64(v))) {
      r = List.of(r.get(0).withPiece(v));
    }
    return r;
  }

  private static boolean isVec1Int64(Value v) {
    return v.dtype() == DType.INT64 && v.shape().hasRank() && v.shape().rank() == 1;
  }

  private static List<Elem> unknowns(Value v) {
    Shape s = v.shape();
    if (!s.hasRank() || s.rank() > 1) return null;
    long n = s.rank() == 0 ? 1 : s.dim(0).value();
    if (n < 0 || n > MAX_LEN) return null;
    return new ArrayList<>(Collections.nCopies((int) n, Elem.UNKNOWN));
  }

  private static List<Elem> traced(Value v, int depth, Map<Value, List<Elem>> seen) {
    Node n = v.producer();
    if (n == null || !n.domain().equals(Node.ONNX)) return null;
    Shape vs = v.shape();
    if (vs.hasRank() && vs.rank() > 1) return null;
    switch (n.op()) {
      case "Shape": {
        Value x = n.input(0);
        Shape xs = x.shape();
        if (!xs.hasRank()) return null;
        int r = xs.rank();
        int start = Shapes.shapeBound(n.intAttr("start", 0), r), end = Shapes.shapeBound(n.intAttr("end", r), r);
        List<Elem> out = new ArrayList<>();
        for (int i = start; i < end; i++) {
          Dim d = xs.dim(i);
          out.add(d.isFixed() ? Elem.known(d.value()) : new Elem(null, d, x, i, null));
        }
        return out;
      }
      case "Cast":
      case "Identity": {
        if (n.op().equals("Cast") && !v.dtype().isInteger()) return null;
        return elems(n.input(0), depth + 1, seen);
      }
      case "Unsqueeze", "Squeeze", "Reshape", "Flatten": {
        List<Elem> in = elems(n.input(0), depth + 1, seen);
        return in != null && in.size() <= 1 ? in : sameCount(in, v);
      }
      case "Concat": {
        List<Elem> out = new ArrayList<>();
        for (Value p : n.inputs()) {
          if (!p.shape().hasRank() || p.shape().rank() != 1) return null;
          List<Elem> e = elems(p, depth + 1, seen);
          if (e == null) return null;
          out.addAll(e);
        }
        return out;
      }
      case "Gather": {
        Tensor idx = n.input(1).constant();
        if (idx == null || idx.rank() > 1 || n.intAttr("axis", 0) != 0 && n.intAttr("axis", 0) != -1) return null;
        List<Elem> data = elems(n.input(0), depth + 1, seen);
        if (data == null || !n.input(0).shape().hasRank() || n.input(0).shape().rank() != 1) return null;
        List<Elem> out = new ArrayList<>();
        for (long i : idx.toLongs()) {
          long j = i < 0 ? i + data.size() : i;
          if (j < 0 || j >= data.size()) return null;
          out.add(data.get((int) j));
        }
        return out;
      }
      case "Slice": {
        Value d = n.input(0);
        if (!d.shape().hasRank() || d.shape().rank() != 1) return null;
        Tensor st = n.input(1).constant(), en = n.input(2).constant();
        Tensor ax = n.input(3) == null ? null : n.input(3).constant();
        Tensor sp = n.input(4) == null ? null : n.input(4).constant();
        if (st == null || en == null || (n.input(3) != null && ax == null) || (n.input(4) != null && sp == null)) return null;
        if (st.size() != 1) return null;
        List<Elem> data = elems(d, depth + 1, seen);
        if (data == null) return null;
        List<Elem> out = new ArrayList<>();
        for (long i : sliceIndices(data.size(), st.getLong(0), en.getLong(0), sp == null ? 1 : sp.getLong(0))) {
          out.add(data.get((int) i));
        }
        return out;
      }
      default:
        return null;
    }
  }

  private static List<Elem> sameCount(List<Elem> in, Value v) {
    if (in == null) return null;
    List<Elem> u = unknowns(v);
    return u != null && u.size() == in.size() ? in : null;
  }

  /** Indices ONNX Slice picks from a dim of size {@code dim}. */
  private static long[] sliceIndices(long dim, long start, long end, long step) {
    long[] se = Shapes.sliceBounds(dim, start, end, step);
    long s = se[0], e = se[1];
    List<Long> r = new ArrayList<>();
    for (long i = s; step > 0 ? i < e : i > e; i += step) r.add(i);
    return r.stream().mapToLong(Long::longValue).toArray();
  }
}
