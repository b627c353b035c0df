package returnn.onnx.convert.handlers;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/**
 * {@code SpaceToBatchND} / {@code BatchToSpaceND}, which TF's {@code tf.nn.convolution} puts around the inner
 * convolution of a dilated one (RETURNN {@code conv} layers with {@code dilation_rate}), as Pad, Reshape, Transpose,
 * Reshape (and back, with a Slice for the crops). The block shape must be a constant (TF's is); paddings and crops
 * may be computed at run time (TF computes them from the input's shape when it is dynamic).
 */
final class NnSpaceToBatch {
  private NnSpaceToBatch() {}

  /** [B, S1..Sm, R...] padded, → [B, S1/b1, b1, ..., Sm/bm, bm, R...] → [b1..bm, B, S1/b1..Sm/bm, R...] → [B·Πb, ...]. */
  static void spaceToBatch(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    long[] block = ctx.requireConstLongs(1, "block_shape");
    int m = block.length;
    int r = rank(ctx, x, m);
    int rest = r - 1 - m;
    Value pad = b.cast(ctx.input(2), DType.INT64); // [m, 2]
    Value pads = b.concat(List.of(b.constant(Tensor.ofLongs(new long[] {2, 1}, 0, 0)), b.transpose(pad, 1, 0),
        b.constant(Tensor.ofLongs(new long[] {2, rest}, new long[2 * rest]))), 1);
    Value padded = b.op("Pad", x, b.reshape(pads, b.constLongs(-1)));
    Value shape = b.shapeOf(padded);
    Value batch = b.slice(shape, new long[] {0}, new long[] {1}, new long[] {0}, null);
    Value spatial = b.slice(shape, new long[] {1}, new long[] {1 + m}, new long[] {0}, null);
    Value restDims = b.slice(shape, new long[] {1 + m}, new long[] {r}, new long[] {0}, null);
    Value blocks = b.constLongs(block);
    Value reduced = b.op("Div", spatial, blocks);
    Value interleaved = b.reshape(b.concat(List.of(b.unsqueeze(reduced, 1), b.unsqueeze(blocks, 1)), 1), b.constLongs(-1));
    Value split = b.reshape(padded, b.concat(List.of(batch, interleaved, restDims), 0));
    long[] perm = new long[r + m];
    for (int i = 0; i < m; i++) perm[i] = 2 + 2L * i;
    perm[m] = 0;
    for (int i = 0; i < m; i++) perm[m + 1 + i] = 1 + 2L * i;
    for (int j = 0; j < rest; j++) perm[2 * m + 1 + j] = 2L * m + 1 + j;
    Value moved = b.transpose(split, perm);
    Value out = b.reshape(moved, b.concat(List.of(b.op("Mul", batch, b.constLongs(product(block))), reduced, restDims), 0));
    out.setShape(keepRest(out.shape(), x.shape(), m));
    ctx.setOutput(0, out);
  }

  /** [B·Πb, S1..Sm, R...] → [b1..bm, B, S1..Sm, R...] → [B, S1, b1, ..., Sm, bm, R...] → [B, S1·b1, ...], cropped. */
  static void batchToSpace(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    long[] block = ctx.requireConstLongs(1, "block_shape");
    int m = block.length;
    int r = rank(ctx, x, m);
    int rest = r - 1 - m;
    Value shape = b.shapeOf(x);
    Value batch = b.op("Div", b.slice(shape, new long[] {0}, new long[] {1}, new long[] {0}, null),
        b.constLongs(product(block)));
    Value spatial = b.slice(shape, new long[] {1}, new long[] {1 + m}, new long[] {0}, null);
    Value restDims = b.slice(shape, new long[] {1 + m}, new long[] {r}, new long[] {0}, null);
    Value blocks = b.constLongs(block);
    Value split = b.reshape(x, b.concat(List.of(blocks, batch, spatial, restDims), 0));
    long[] perm = new long[r + m];
    perm[0] = m;
    for (int i = 0; i < m; i++) {
      perm[1 + 2 * i] = m + 1 + i;
      perm[2 + 2 * i] = i;
    }
    for (int j = 0; j < rest; j++) perm[2 * m + 1 + j] = 2L * m + 1 + j;
    Value moved = b.transpose(split, perm);
    Value full = b.op("Mul", spatial, blocks);
    Value out = b.reshape(moved, b.concat(List.of(batch, full, restDims), 0));
    Tensor crops = ctx.constInput(2);
    boolean noCrop = crops != null && java.util.Arrays.stream(crops.toLongs()).allMatch(c -> c == 0);
    if (!noCrop) {
      Value c = b.cast(ctx.input(2), DType.INT64); // [m, 2]
      Value starts = b.reshape(b.slice(c, new long[] {0}, new long[] {1}, new long[] {1}, null), b.constLongs(-1));
      Value endCrops = b.reshape(b.slice(c, new long[] {1}, new long[] {2}, new long[] {1}, null), b.constLongs(-1));
      long[] axes = new long[m];
      for (int i = 0; i < m; i++) axes[i] = 1 + i;
      out = b.op("Slice", out, starts, b.op("Sub", full, endCrops), b.constLongs(axes));
    }
    out.setShape(keepRest(out.shape(), x.shape(), m));
    ctx.setOutput(0, out);
  }

  private static int rank(ConversionContext ctx, Value x, int m) {
    Shape s = x.shape();
    if (!s.hasRank()) throw ctx.error("needs an input of known rank");
    if (s.rank() < 1 + m) throw ctx.error("input of rank " + s.rank() + " has fewer than 1 + " + m + " block dims");
    return s.rank();
  }

  private static long product(long[] v) {
    long p = 1;
    for (long x : v) p *= x;
    return p;
  }

  /** The inferred shape with the dims after the block dims (channels) taken from the input, where they are known. */
  private static Shape keepRest(Shape have, Shape in, int m) {
    if (!in.hasRank()) return have;
    List<Dim> d = new ArrayList<>();
    for (int i = 0; i < in.rank(); i++) {
      Dim h = have.hasRank() && have.rank() == in.rank() ? have.dim(i) : Dim.UNKNOWN;
      d.add(i > m && !h.isFixed() ? in.dim(i) : h);
    }
    return Shape.of(d);
  }
}
