package returnn.onnx.convert.handlers;

import java.util.List;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.eval.ShapeTrace;
import returnn.onnx.eval.ShapeTrace.Elem;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * A small integer vector (a shape vector or a piece of one) as {@link ShapeTrace} reads it, for the TF handlers: its
 * known elements fold to constants, the others are taken from the dim they are, and its int64 form is made on demand
 * (one Cast however many elements are taken).
 */
final class TracedVector {
  final Value value;
  final List<Elem> elems;
  private final OnnxBuilder b;
  private Value v64;

  /** {@code v} as a constant when all its elements are known, else {@code v}. */
  static Value foldIfKnown(OnnxBuilder b, Value v) {
    if (v.isConstant() || v.dtype() == null || !v.dtype().isInteger()) return v;
    Shape s = v.shape();
    if (!s.hasRank() || s.rank() > 1) return v;
    long[] vals = ShapeTrace.knownValues(ShapeTrace.elems(v));
    if (vals == null) return v;
    long[] shape = s.rank() == 0 ? new long[0] : new long[] {vals.length};
    if (s.rank() == 0 && vals.length != 1) return v;
    return b.constant(Tensor.fromLongs(v.dtype(), shape, vals));
  }

  /** Null when {@code v} is not a traceable integer scalar or vector. */
  static TracedVector of(OnnxBuilder b, Value v) {
    List<Elem> e = ShapeTrace.elems(v);
    return e == null ? null : new TracedVector(b, v, e);
  }

  private TracedVector(OnnxBuilder b, Value value, List<Elem> elems) {
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
    return ShapeTrace.knownValues(elems);
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
