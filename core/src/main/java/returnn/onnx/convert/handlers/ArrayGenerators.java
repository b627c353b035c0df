package returnn.onnx.convert.handlers;

import static returnn.onnx.convert.handlers.ArrayIndexingHandlers.int64;
import static returnn.onnx.convert.handlers.ArrayIndexingHandlers.scalar;

import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.convert.HandlerRegistry;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/** Ops that generate or replicate values: Tile, Fill, ZerosLike/OnesLike, Range, BroadcastTo, BroadcastArgs. */
final class ArrayGenerators {
  private ArrayGenerators() {}

  static void register(HandlerRegistry r) {
    r.register("Tile", ctx -> ctx.setOutput(0, ctx.onnx().op("Tile", ctx.input(0), int64(ctx.onnx(), ctx.input(1)))));
    r.register("Fill", ArrayGenerators::fill);
    r.register("ZerosLike", ctx -> ctx.setOutput(0, filledLike(ctx, 0)));
    r.register("OnesLike", ctx -> ctx.setOutput(0, filledLike(ctx, 1)));
    r.register("Range", ArrayGenerators::range);
    r.register("BroadcastTo", ctx -> ctx.setOutput(0, ctx.onnx().op("Expand", ctx.input(0), int64(ctx.onnx(), ctx.input(1)))));
    r.register("BroadcastArgs", ArrayGenerators::broadcastArgs);
  }

  /** ConstantOfShape's value attribute must be a 1-element tensor; a value known only at run time is Expanded. */
  private static void fill(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value dims = int64(b, ctx.input(0));
    Tensor v = ctx.constInput(1);
    if (v != null && v.dtype() != DType.STRING && v.size() == 1) {
      ctx.setOutput(0, b.op("ConstantOfShape", List.of(dims), Attrs.of("value", v.reshape(new long[] {1}))));
    } else {
      ctx.setOutput(0, b.op("Expand", scalar(b, ctx.input(1)), dims));
    }
  }

  private static Value filledLike(ConversionContext ctx, int value) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    return b.op("ConstantOfShape", List.of(b.shapeOf(x)), Attrs.of("value", one(ctx, x.dtype(), value)));
  }

  private static Tensor one(ConversionContext ctx, DType dt, long v) {
    if (dt == DType.STRING || dt == DType.BFLOAT16) throw ctx.unsupported("dtype", dt);
    long[] shape = {1};
    return dt.isFloating() ? Tensor.fromDoubles(dt, shape, new double[] {v}) : Tensor.fromLongs(dt, shape, new long[] {v});
  }

  /**
   * TF and ONNX agree on Range's length, max(ceil((limit - start) / delta), 0). ONNX Range has no 16-bit float
   * kernel, so half precision runs in float.
   */
  private static void range(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value start = scalar(b, ctx.input(0));
    Value limit = scalar(b, ctx.input(1));
    Value delta = scalar(b, ctx.input(2));
    DType dt = start.dtype();
    if (dt == DType.FLOAT16 || dt == DType.BFLOAT16) {
      Value r = b.op("Range", b.cast(start, DType.FLOAT), b.cast(limit, DType.FLOAT), b.cast(delta, DType.FLOAT));
      ctx.setOutput(0, b.cast(r, dt));
      return;
    }
    ctx.setOutput(0, b.op("Range", start, limit, delta));
  }

  /**
   * The broadcast of two shape vectors: both are left-padded with 1s to equal length, then a dim of 1 takes the
   * other's. (Max would be wrong for 0-sized dims: broadcasting 0 with 1 gives 0.)
   */
  private static void broadcastArgs(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value s0 = ctx.input(0);
    Value s1 = ctx.input(1);
    Value len0 = b.shapeOf(s0);
    Value len1 = b.shapeOf(s1);
    Value len = b.op("Max", len0, len1);
    Value p0 = padOnes(ctx, s0, b.op("Sub", len, len0));
    Value p1 = padOnes(ctx, s1, b.op("Sub", len, len1));
    Value isOne = b.op("Equal", p0, b.scalar(p0.dtype(), 1));
    ctx.setOutput(0, b.op("Where", isOne, p1, p0));
  }

  private static Value padOnes(ConversionContext ctx, Value s, Value count) {
    OnnxBuilder b = ctx.onnx();
    Tensor c = count.constant();
    if (c != null && c.getLong(0) == 0) return s;
    Value ones = b.op("ConstantOfShape", List.of(count), Attrs.of("value", one(ctx, s.dtype(), 1)));
    return b.concat(List.of(ones, s), 0);
  }
}
