package returnn.onnx.convert.handlers;

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
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.eval.Shapes;

/**
 * Element-wise view of small integer vectors (shape vectors and their pieces) through the ONNX ops shape arithmetic
 * is built from: Shape, Cast, Concat, Unsqueeze/Squeeze/Reshape, Gather and Slice. RETURNN computes reshape targets
 * and slice bounds as {@code tf.shape(x)[i]} pieces packed together; when an input dim is static its piece is a
 * known number even though the Shape node stays, and when it is dynamic we still know which dim of which tensor it
 * is. Handlers use this to fold partially static shape vectors and to simplify Reshape targets.
 */
final class ArrayShapeTrace {
  /** Vectors longer than this are not traced (shape vectors are short). */
  private static final int MAX_LEN = 64;
  private static final int MAX_DEPTH = 48;

  /**
   * One element: {@code value} when known; otherwise {@code dim} (symbolic or unknown), and, when it is a dim of a
   * tensor, that tensor and axis; {@code piece} is a 1-element value (scalar or [1], any int type) holding it.
   */
  record Elem(Long value, Dim dim, Value src, int axis, Value piece) {
    static Elem known(long v) {
      return new Elem(v, v >= 0 ? Dim.of(v) : Dim.UNKNOWN, null, -1, null);
    }

    static final Elem UNKNOWN = new Elem(null, Dim.UNKNOWN, null, -1, null);

    boolean isKnown() {
      return value != null;
    }

    Elem withPiece(Value p) {
      return new Elem(value, dim, src, axis, p);
    }
  }

  private ArrayShapeTrace() {}

  /** The elements of an integer scalar or vector, or null if its length is unknown or it is not one. */
  static List<Elem> elems(Value v) {
    return elems(v, 0, new IdentityHashMap<>());
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
  static long[] sliceIndices(long dim, long start, long end, long step) {
    long[] se = Shapes.sliceBounds(dim, start, end, step);
    long s = se[0], e = se[1];
    List<Long> r = new ArrayList<>();
    for (long i = s; step > 0 ? i < e : i > e; i += step) r.add(i);
    return r.stream().mapToLong(Long::longValue).toArray();
  }

  /** {@code v} as a constant when all its elements are known, else {@code v}. */
  static Value foldIfKnown(OnnxBuilder b, Value v) {
    if (v.isConstant() || v.dtype() == null || !v.dtype().isInteger()) return v;
    Shape s = v.shape();
    if (!s.hasRank() || s.rank() > 1) return v;
    List<Elem> e = elems(v);
    if (e == null) return v;
    long[] vals = new long[e.size()];
    for (int i = 0; i < vals.length; i++) {
      if (!e.get(i).isKnown()) return v;
      vals[i] = e.get(i).value();
    }
    long[] shape = s.rank() == 0 ? new long[0] : new long[] {vals.length};
    if (s.rank() == 0 && vals.length != 1) return v;
    return b.constant(Tensor.fromLongs(v.dtype(), shape, vals));
  }

  /** A traced vector with its int64 form made on demand (one Cast however many elements are taken). */
  static final class Vec {
    final Value value;
    final List<Elem> elems;
    private final OnnxBuilder b;
    private Value v64;

    /** Null when {@code v} is not a traceable integer scalar or vector. */
    static Vec of(OnnxBuilder b, Value v) {
      List<Elem> e = elems(v);
      return e == null ? null : new Vec(b, v, e);
    }

    private Vec(OnnxBuilder b, Value value, List<Elem> elems) {
      this.b = b;
      this.value = value;
      this.elems = elems;
    }

    int size() {
      return elems.size();
    }

    Elem get(int i) {
      return elems.get(i);
    }

    Long known(int i) {
      return elems.get(i).value();
    }

    boolean allKnown() {
      for (Elem x : elems) if (!x.isKnown()) return false;
      return true;
    }

    long[] values() {
      long[] r = new long[elems.size()];
      for (int i = 0; i < r.length; i++) r[i] = elems.get(i).value();
      return r;
    }

    /** The whole vector as int64 (a [1] vector for a scalar). */
    Value all64() {
      if (allKnown()) return b.constLongs(values());
      if (v64 == null) v64 = b.cast(value, DType.INT64);
      if (v64.shape().hasRank() && v64.shape().rank() == 0) return b.unsqueeze(v64, 0);
      return v64;
    }

    /** Element i as an int64 vector of shape [1]. */
    Value at(int i) {
      Elem x = elems.get(i);
      if (x.isKnown()) return b.constLongs(x.value());
      if (x.piece() != null) return asVec1(b, x.piece());
      if (elems.size() == 1) return all64();
      return b.slice(all64(), new long[] {i}, new long[] {i + 1}, new long[] {0}, null);
    }
  }

  /** A 1-element value as an int64 vector of shape [1]. */
  static Value asVec1(OnnxBuilder b, Value piece) {
    Value p = b.cast(piece, DType.INT64);
    if (p.shape().hasRank() && p.shape().rank() == 1) return p;
    if (p.shape().hasRank() && p.shape().rank() == 0) return b.unsqueeze(p, 0);
    return b.reshape(p, b.constLongs(1));
  }

  /** Concatenates int64 vectors (folds to a constant when all are; empty gives an empty vector). */
  static Value join(OnnxBuilder b, List<Value> parts) {
    if (parts.isEmpty()) return b.constant(Tensor.ofLongs(new long[] {0}));
    return b.concat(parts, 0);
  }
}
