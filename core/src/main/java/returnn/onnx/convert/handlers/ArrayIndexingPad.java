package returnn.onnx.convert.handlers;

import static returnn.onnx.convert.handlers.ArrayIndexingHandlers.dim;
import static returnn.onnx.convert.handlers.ArrayIndexingHandlers.int64;
import static returnn.onnx.convert.handlers.ArrayIndexingHandlers.rankOf;
import static returnn.onnx.convert.handlers.ArrayIndexingHandlers.scalar;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.convert.HandlerRegistry;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/** Padding, reversal and band masks. */
final class ArrayIndexingPad {
  private ArrayIndexingPad() {}

  static void register(HandlerRegistry r) {
    r.register("Pad", ArrayIndexingPad::pad);
    r.register("PadV2", ArrayIndexingPad::pad);
    r.register("MirrorPad", ArrayIndexingPad::mirrorPad);
    r.register("ReverseV2", ArrayIndexingPad::reverseV2);
    r.register("Reverse", ArrayIndexingPad::reverseLegacy);
    r.register("ReverseSequence", ArrayIndexingPad::reverseSequence);
    r.register("MatrixBandPart", ArrayIndexingPad::matrixBandPart);
  }

  /** TF paddings [rank, 2] (before, after per dim) → ONNX pads [begin..., end...], int64. */
  private static Value onnxPads(OnnxBuilder b, Value paddings) {
    return b.reshape(b.transpose(int64(b, paddings), 1, 0), b.constLongs(-1));
  }

  private static void pad(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    List<Value> in = new ArrayList<>(List.of(ctx.input(0), onnxPads(b, ctx.input(1))));
    if (ctx.op().equals("PadV2")) in.add(scalar(b, ctx.input(2)));
    ctx.setOutput(0, b.op("Pad", in, Attrs.of("mode", "constant")));
  }

  /**
   * REFLECT is ONNX Pad's "reflect". SYMMETRIC (the edge element repeated) has no ONNX Pad mode ("edge" repeats
   * only the edge, "wrap" wraps around), so it becomes one Gather per padded dim with mirrored indices
   * min(max(i, -1 - i), 2n - 1 - i) for i in [-before, n + after).
   */
  private static void mirrorPad(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    String mode = ctx.attrString("mode", "");
    if (mode.equals("REFLECT")) {
      ctx.setOutput(0, b.op("Pad", List.of(ctx.input(0), onnxPads(b, ctx.input(1))), Attrs.of("mode", "reflect")));
      return;
    }
    if (!mode.equals("SYMMETRIC")) throw ctx.unsupported("MirrorPad mode", mode);
    int rank = rankOf(ctx, 0, "MirrorPad SYMMETRIC");
    Value x = ctx.input(0);
    Value p = int64(b, ctx.input(1));
    Tensor pc = p.constant();
    Value one = b.scalarLong(1);
    for (int i = 0; i < rank; i++) {
      if (pc != null && pc.getLong(2L * i) == 0 && pc.getLong(2L * i + 1) == 0) continue;
      Value row = b.gather(p, b.scalarLong(i), 0);
      Value before = b.gather(row, b.scalarLong(0), 0);
      Value after = b.gather(row, b.scalarLong(1), 0);
      Value n = dim(b, x, i);
      Value pos = b.op("Range", b.op("Neg", before), b.op("Add", n, after), one);
      Value low = b.op("Max", pos, b.op("Sub", b.scalarLong(-1), pos));
      Value high = b.op("Sub", b.op("Sub", b.op("Add", n, n), one), pos);
      x = b.gather(x, b.op("Min", low, high), i);
    }
    ctx.setOutput(0, x);
  }

  /** ONNX has no Reverse: a Slice with step -1 from the last element to "before the first" (INT64_MIN). */
  private static Value reverse(OnnxBuilder b, Value x, long[] axes) {
    if (axes.length == 0) return x;
    long[] starts = new long[axes.length], ends = new long[axes.length], steps = new long[axes.length];
    for (int i = 0; i < axes.length; i++) {
      starts[i] = -1;
      ends[i] = Long.MIN_VALUE;
      steps[i] = -1;
    }
    return b.slice(x, starts, ends, axes, steps);
  }

  private static void reverseV2(ConversionContext ctx) {
    ctx.setOutput(0, reverse(ctx.onnx(), ctx.input(0), ctx.requireConstLongs(1, "axis")));
  }

  /** Legacy Reverse: one bool per dim. */
  private static void reverseLegacy(ConversionContext ctx) {
    long[] dims = ctx.requireConstLongs(1, "dims");
    long[] axes = java.util.stream.IntStream.range(0, dims.length).filter(i -> dims[i] != 0).asLongStream().toArray();
    ctx.setOutput(0, reverse(ctx.onnx(), ctx.input(0), axes));
  }

  /**
   * ONNX ReverseSequence only allows batch/time axes 0 and 1 (and int64 lengths); other TF batch_dim/seq_dim
   * pairs are transposed to (0, 1) and back. TF rejects negative dims, so they are not normalized.
   */
  private static void reverseSequence(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    // ONNX Runtime's CPU kernel skips a sequence of length 0 without copying it, leaving that output row
    // uninitialized (reverse_sequence.cc: `if (seq_len == 0) continue;`); TF copies it. Reversing one element is
    // a copy too, so lengths are raised to at least 1.
    Value lens = b.op("Max", int64(b, ctx.input(1)), b.scalarLong(1));
    long seq = ctx.attrInt("seq_dim", Long.MIN_VALUE);
    if (seq == Long.MIN_VALUE) throw ctx.error("missing required attribute seq_dim");
    long batch = ctx.attrInt("batch_dim", 0);
    boolean direct = seq >= 0 && seq <= 1 && batch >= 0 && batch <= 1 && seq != batch;
    if (direct) {
      ctx.setOutput(0, b.op("ReverseSequence", List.of(x, lens), Attrs.of("batch_axis", batch, "time_axis", seq)));
      return;
    }
    int rank = rankOf(ctx, 0, "ReverseSequence with seq_dim " + seq + ", batch_dim " + batch);
    if (seq < 0 || seq >= rank || batch < 0 || batch >= rank || seq == batch) {
      throw ctx.error("invalid seq_dim " + seq + " / batch_dim " + batch + " for rank " + rank);
    }
    long[] perm = new long[rank];
    perm[0] = batch;
    perm[1] = seq;
    int k = 2;
    for (int i = 0; i < rank; i++) if (i != batch && i != seq) perm[k++] = i;
    long[] inv = new long[rank];
    for (int i = 0; i < rank; i++) inv[(int) perm[i]] = i;
    Value y = b.op("ReverseSequence", List.of(b.transpose(x, perm), lens), Attrs.of("batch_axis", 0, "time_axis", 1));
    ctx.setOutput(0, b.transpose(y, inv));
  }

  /**
   * Keeps x[..., m, n] where (lower < 0 || m - n <= lower) && (upper < 0 || n - m <= upper), else 0/false. A
   * Where, not a multiply by the mask: RETURNN applies it to bool tensors, and 0·inf would be NaN.
   */
  private static void matrixBandPart(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    Value rows = b.op("Range", b.scalarLong(0), dim(b, x, -2), b.scalarLong(1));
    Value cols = b.op("Range", b.scalarLong(0), dim(b, x, -1), b.scalarLong(1));
    Value diff = b.op("Sub", b.unsqueeze(rows, 1), cols);
    Value lowerOk = bandCond(b, diff, scalar(b, int64(b, ctx.input(1))), false);
    Value upperOk = bandCond(b, diff, scalar(b, int64(b, ctx.input(2))), true);
    Value mask = lowerOk == null ? upperOk : upperOk == null ? lowerOk : b.op("And", lowerOk, upperOk);
    if (mask == null) {
      ctx.setOutput(0, x);
      return;
    }
    ctx.setOutput(0, ArrayIndexingHandlers.select(b, mask, x, b.scalar(x.dtype(), 0)));
  }

  /** diff = m - n; lower band: diff <= k; upper band: -diff <= k, i.e. diff >= -k. Null when k is a constant < 0. */
  private static Value bandCond(OnnxBuilder b, Value diff, Value k, boolean upper) {
    Tensor kc = k.constant();
    if (kc != null && kc.getLong(0) < 0) return null;
    Value cond = upper ? b.op("GreaterOrEqual", diff, b.op("Neg", k)) : b.op("LessOrEqual", diff, k);
    if (kc != null) return cond;
    return b.op("Or", b.op("Less", k, b.scalarLong(0)), cond);
  }
}
