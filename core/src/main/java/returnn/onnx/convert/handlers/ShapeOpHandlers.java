package returnn.onnx.convert.handlers;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.eval.ShapeTrace.Elem;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/** Shape queries and shape changes without data movement: Shape, ShapeN, Size, Rank, Reshape, ExpandDims, Squeeze, Transpose. */
final class ShapeOpHandlers {
  private ShapeOpHandlers() {}

  private static DType outType(ConversionContext ctx) {
    DType t = ctx.attrType("out_type");
    return t == null ? DType.INT32 : t; // TF's default for Shape/ShapeN/Size
  }

  static void shape(ConversionContext ctx) {
    ctx.setOutput(0, ctx.onnx().cast(ctx.onnx().shapeOf(ctx.input(0)), outType(ctx)));
  }

  static void shapeN(ConversionContext ctx) {
    DType t = outType(ctx);
    for (int i = 0; i < ctx.outputCount(); i++) {
      if (ctx.outputUsed(i)) ctx.setOutput(i, ctx.onnx().cast(ctx.onnx().shapeOf(ctx.input(i)), t));
    }
  }

  static void size(ConversionContext ctx) {
    DType t = outType(ctx);
    Value x = ctx.input(0);
    if (x.shape().isFullyKnown()) {
      ctx.setOutput(0, ctx.onnx().constant(Tensor.fromLongs(t, new long[0], new long[] {x.shape().elementCount()})));
      return;
    }
    ctx.setOutput(0, ctx.onnx().cast(ctx.onnx().op("Size", x), t));
  }

  /** Rank is always int32 in TF. */
  static void rank(ConversionContext ctx) {
    Value x = ctx.input(0);
    OnnxBuilder b = ctx.onnx();
    if (x.shape().hasRank()) {
      ctx.setOutput(0, b.constant(Tensor.ofInts(new long[0], x.shape().rank())));
      return;
    }
    ctx.setOutput(0, b.cast(b.op("Size", b.shapeOf(x)), DType.INT32));
  }

  static void transpose(ConversionContext ctx) {
    TracedVector p = TracedVector.of(ctx.onnx(), ctx.input(1));
    if (p == null || !p.allKnown()) {
      throw ctx.error("the permutation (input 1) is computed at run time; ONNX Transpose needs a constant perm");
    }
    long[] perm = p.values();
    Shape s = ctx.input(0).shape();
    if (s.hasRank() && s.rank() != perm.length) {
      throw ctx.error("perm " + java.util.Arrays.toString(perm) + " does not match input rank " + s.rank());
    }
    for (int i = 0; i < perm.length; i++) if (perm[i] < 0) perm[i] += perm.length;
    ctx.setOutput(0, ctx.onnx().transpose(ctx.input(0), perm));
  }

  /** TF's axis ranges over [-rank-1, rank], -1 meaning after the last dim: ONNX Unsqueeze's negative axes agree. */
  static void expandDims(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    TracedVector d = TracedVector.of(b, ctx.input(1));
    if (d != null && d.size() != 1) throw ctx.error("dim must hold one element, got " + d.size());
    if (d == null || !d.allKnown()) {
      Value axes = d != null ? d.at(0) : b.reshape(b.cast(ctx.input(1), DType.INT64), b.constLongs(1));
      ctx.setOutput(0, b.op("Unsqueeze", x, axes));
      return;
    }
    long a = d.values()[0];
    if (x.shape().hasRank()) {
      int r = x.shape().rank();
      if (a < -r - 1 || a > r) throw ctx.error("dim " + a + " out of range for input rank " + r);
      if (a < 0) a += r + 1;
    }
    ctx.setOutput(0, TracedVector.foldIfKnown(b, b.unsqueeze(x, a)));
  }

  /** Empty squeeze_dims squeezes every dim of size 1, decided at run time by TF; ONNX Squeeze without axes does the same. */
  static void squeeze(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    long[] dims = ctx.attrInts("squeeze_dims");
    if (dims == null) dims = ctx.attrInts("axis");
    Shape s = x.shape();
    if (dims == null || dims.length == 0) {
      if (s.isFullyKnown()) {
        List<Long> ones = new ArrayList<>();
        for (int i = 0; i < s.rank(); i++) if (s.dim(i).value() == 1) ones.add((long) i);
        if (ones.isEmpty()) {
          ctx.setOutput(0, x);
          return;
        }
        ctx.setOutput(0, b.squeeze(x, ones.stream().mapToLong(Long::longValue).toArray()));
        return;
      }
      ctx.setOutput(0, b.squeeze(x, (long[]) null));
      return;
    }
    long[] axes = dims.clone();
    if (s.hasRank()) {
      int r = s.rank();
      for (int i = 0; i < axes.length; i++) {
        if (axes[i] < -r || axes[i] >= r) throw ctx.error("squeeze dim " + axes[i] + " out of range for rank " + r);
        if (axes[i] < 0) axes[i] += r;
        Dim d = s.dim((int) axes[i]);
        if (d.isFixed() && d.value() != 1) {
          throw ctx.error("cannot squeeze dim " + axes[i] + " of size " + d.value() + " (input shape " + s + ")");
        }
      }
    }
    ctx.setOutput(0, TracedVector.foldIfKnown(b, b.squeeze(x, axes)));
  }

  // ---------------------------------------------------------------- Reshape

  /**
   * TF Reshape: a 0 in the target is a 0-sized dim, where ONNX (allowzero=0) copies the input dim; -1 is inferred.
   * Partially known targets (RETURNN's Pack of {@code tf.shape} pieces) are simplified: a piece that is the input's
   * own dim at the same position becomes 0 (copy), and a single remaining run-time piece becomes -1, so the target
   * is usually a constant.
   */
  static void reshape(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    TracedVector t = TracedVector.of(b, ctx.input(1));
    if (t == null) {
      Value t64 = b.cast(ctx.input(1), DType.INT64);
      ctx.setOutput(0, reshapeOp(b, x, t64, ctx.opset() >= 14));
      return;
    }
    boolean hasZero = false, hasMinus = false;
    int unknown = 0;
    for (int i = 0; i < t.size(); i++) {
      Long k = t.known(i);
      if (k == null) unknown++;
      else if (k == 0) hasZero = true;
      else if (k == -1) hasMinus = true;
      else if (k < -1) throw ctx.error("target shape entry " + i + " is " + k + " (must be -1 or non-negative)");
    }
    Value out;
    if (hasZero) out = reshapeWithZeros(ctx, x, t, hasMinus);
    else if (unknown == 0) out = reshapeConst(b, x, t.values());
    else out = reshapeDynamic(ctx, x, t, hasMinus);
    if (out != x) refineShape(out, t);
    ctx.setOutput(0, TracedVector.foldIfKnown(b, out));
  }

  private static Value reshapeOp(OnnxBuilder b, Value x, Value target, boolean allowZero) {
    return b.op("Reshape", List.of(x, target), allowZero ? Attrs.of("allowzero", 1) : Attrs.of());
  }

  /** Constant target without zeros; the identity when it keeps a static shape. */
  private static Value reshapeConst(OnnxBuilder b, Value x, long[] target) {
    Shape s = x.shape();
    if (s.isFullyKnown() && s.rank() == target.length) {
      long[] in = s.sizes();
      boolean same = true;
      for (int i = 0; i < in.length; i++) if (target[i] != in[i] && !(target[i] == -1 && s.elementCount() > 0)) same = false;
      if (same) return x;
    }
    return b.reshape(x, b.constLongs(target));
  }

  private static Value reshapeDynamic(ConversionContext ctx, Value x, TracedVector t, boolean hasMinus) {
    OnnxBuilder b = ctx.onnx();
    long[] c = new long[t.size()];
    int remaining = 0, last = -1;
    for (int i = 0; i < c.length; i++) {
      Elem e = t.get(i);
      if (e.isKnown()) c[i] = e.value();
      else if (e.src() == x && e.axis() == i) c[i] = 0; // ONNX copies x's dim i: exactly this value
      else {
        remaining++;
        last = i;
      }
    }
    if (remaining == 0) return b.reshape(x, b.constLongs(c));
    // With all other entries non-zero, the one run-time entry is what -1 infers (TF rejects any other value).
    if (remaining == 1 && !hasMinus) {
      c[last] = -1;
      return b.reshape(x, b.constLongs(c));
    }
    // A run-time 0 in the target needs allowzero=1 (opset 14). At opset 13 ONNX would copy the input dim there
    // instead; that differs only for empty tensors (a 0-sized batch or time axis).
    return reshapeOp(b, x, t.all64(), ctx.opset() >= 14 && !hasMinus);
  }

  /**
   * A target with literal zeros: the result is empty. TF infers a -1 beside zeros from the non-zero dims only
   * ([0,6] to [0,-1,2] gives [0,3,2]), so that is resolved first. Then opset 14+ uses allowzero=1; opset 13 reshapes
   * to the target with its first 0 as -1 (inferred as 0) and other zeros as 1, and expands those 1s to 0.
   */
  private static Value reshapeWithZeros(ConversionContext ctx, Value x, TracedVector t, boolean hasMinus) {
    OnnxBuilder b = ctx.onnx();
    Value one = b.constLongs(1);
    Value tv = t.all64();
    if (hasMinus) {
      Value s = b.shapeOf(x);
      Value nzIn = b.op("Where", b.op("Equal", s, b.constLongs(0)), one, s);
      Value prodIn = b.reduce("ReduceProd", nzIn, null, true);
      Value nzT = b.op("Where", b.op("Less", tv, one), one, tv);
      Value prodT = b.reduce("ReduceProd", nzT, null, true);
      tv = b.op("Where", b.op("Equal", tv, b.constLongs(-1)), b.op("Div", prodIn, prodT), tv);
    }
    if (ctx.opset() >= 14) return reshapeOp(b, x, tv, true);
    long[] delta = new long[t.size()];
    long[] keep = new long[t.size()];
    boolean first = true;
    for (int i = 0; i < delta.length; i++) {
      Long k = t.known(i);
      if (k != null && k == 0) {
        delta[i] = first ? -1 : 1;
        first = false;
      } else {
        keep[i] = 1;
      }
    }
    Value y = b.reshape(x, b.op("Add", tv, b.constLongs(delta)));
    return b.op("Expand", y, b.constLongs(keep));
  }

  /** Dims the target makes known (static entries, symbolic dims of traced pieces) that inference could not see. */
  private static void refineShape(Value out, TracedVector t) {
    if (out.isConstant() || !out.shape().hasRank() || out.shape().rank() != t.size()) return;
    List<Dim> d = new ArrayList<>(out.shape().dims());
    boolean changed = false;
    for (int i = 0; i < d.size(); i++) {
      if (d.get(i).isFixed() || d.get(i).isSymbolic()) continue;
      Elem e = t.get(i);
      if (e.isKnown() && e.value() >= 0) d.set(i, Dim.of(e.value()));
      else if (!e.isKnown() && e.dim().isSymbolic()) d.set(i, e.dim());
      else continue;
      changed = true;
    }
    if (changed) out.setShape(Shape.of(d));
  }
}
