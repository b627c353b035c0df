package returnn.onnx.convert.handlers;

import java.util.List;
import java.util.Set;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.convert.HandlerRegistry;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/**
 * Array ops, part 2: gathering and index-producing ops here; padding/reversal in {@link ArrayIndexingPad},
 * generators (Fill, Range, Tile, broadcasting) in {@link ArrayGenerators}.
 */
public final class ArrayIndexingHandlers {
  /** Element types ONNX Runtime's CPU NonZero kernel accepts; others are cast to bool first. */
  private static final Set<DType> NONZERO_TYPES = Set.of(DType.BOOL, DType.FLOAT, DType.INT32, DType.INT64, DType.UINT8);
  /** Element types ONNX Runtime's CPU Where kernel accepts (docs/OperatorKernels.md: no bool, no 8/16-bit ints). */
  private static final Set<DType> WHERE_TYPES = Set.of(DType.FLOAT, DType.DOUBLE, DType.INT32, DType.INT64,
      DType.UINT8, DType.STRING);

  private ArrayIndexingHandlers() {}

  public static void register(HandlerRegistry r) {
    r.register("GatherV2", ArrayIndexingHandlers::gatherV2);
    r.register("Gather", ArrayIndexingHandlers::gatherLegacy);
    r.register("GatherNd", ArrayIndexingHandlers::gatherNd);
    r.register("ScatterNd", ArrayIndexingHandlers::scatterNd);
    r.register("Where", ArrayIndexingHandlers::whereIndices);
    r.register("OneHot", ArrayIndexingHandlers::oneHot);
    ArrayIndexingPad.register(r);
    ArrayGenerators.register(r);
  }

  static Value int64(OnnxBuilder b, Value v) {
    return b.cast(v, DType.INT64);
  }

  /** Index tensors for ONNX Gather: int32/int64 pass as they are, narrower types (int16, uint8) widen. */
  static Value gatherIndices(OnnxBuilder b, Value v) {
    return v.dtype() == DType.INT32 || v.dtype() == DType.INT64 ? v : int64(b, v);
  }

  static int rankOf(ConversionContext ctx, int input, String what) {
    Shape s = ctx.input(input).shape();
    if (!s.hasRank()) throw ctx.error(what + " needs the rank of input " + input + ", which is unknown");
    return s.rank();
  }

  /** Dimension {@code axis} of {@code v} as an int64 scalar (a constant when it is static). */
  static Value dim(OnnxBuilder b, Value v, long axis) {
    return b.gather(b.shapeOf(v), b.scalarLong(axis), 0);
  }

  private static void gatherV2(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value params = ctx.input(0);
    Value indices = ctx.input(1);
    long axis = ctx.requireConst(2, "axis").toLongs()[0];
    long batchDims = ctx.attrInt("batch_dims", 0);
    if (batchDims == 0) {
      ctx.setOutput(0, b.gather(params, gatherIndices(b, indices), axis));
      return;
    }
    int pr = rankOf(ctx, 0, "GatherV2 with batch_dims");
    int ir = rankOf(ctx, 1, "GatherV2 with batch_dims");
    // TF normalizes a negative batch_dims against the indices rank and a negative axis against the params rank.
    if (batchDims < 0) batchDims += ir;
    if (axis < 0) axis += pr;
    if (batchDims < 0 || batchDims > ir || axis < batchDims || axis >= pr) {
      throw ctx.error("invalid batch_dims " + ctx.attrInt("batch_dims", 0) + " with axis " + axis + " for params rank "
          + pr + " and indices rank " + ir);
    }
    int bd = (int) batchDims;
    int ax = (int) axis;
    // ONNX Gather has no batch_dims; GatherND has (opset 12+), but it gathers along the first non-batch axis.
    // So move `axis` there, gather with 1-tuples, and move the middle params dims back in front of the indices dims.
    long[] perm = new long[pr];
    int k = 0;
    for (int i = 0; i < bd; i++) perm[k++] = i;
    perm[k++] = ax;
    for (int i = bd; i < pr; i++) if (i != ax) perm[k++] = i;
    Value p = b.transpose(params, perm);
    Value idx = b.unsqueeze(int64(b, indices), -1);
    Value g = b.op("GatherND", List.of(p, idx), Attrs.of("batch_dims", bd));
    int qi = ir - bd;
    int mid = ax - bd;
    int outRank = bd + qi + pr - bd - 1;
    long[] back = new long[outRank];
    k = 0;
    for (int i = 0; i < bd; i++) back[k++] = i;
    for (int i = 0; i < mid; i++) back[k++] = bd + qi + i;
    for (int i = 0; i < qi; i++) back[k++] = bd + i;
    for (int i = bd + qi + mid; i < outRank; i++) back[k++] = i;
    ctx.setOutput(0, b.transpose(g, back));
  }

  /** Legacy Gather: axis 0; validate_indices only concerns errors on invalid input. */
  private static void gatherLegacy(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    ctx.setOutput(0, b.gather(ctx.input(0), gatherIndices(b, ctx.input(1)), 0));
  }

  /** ONNX Runtime's GatherND takes int64 indices only. */
  private static void gatherNd(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    ctx.setOutput(0, b.op("GatherND", List.of(ctx.input(0), int64(b, ctx.input(1))), Attrs.of("batch_dims", 0)));
  }

  /**
   * TF ScatterNd(indices, updates, shape): zeros of {@code shape} with {@code updates} scattered in, where duplicate
   * indices ADD UP (TF sums them). ONNX ScatterND with reduction "add" (opset 16+) on ConstantOfShape zeros has the
   * same semantics; reduction "none" leaves duplicates undefined. RETURNN's masked_computation outside a loop (e.g. a
   * transducer's labels without blank) scatters every masked-away frame onto one dropped position, so duplicates do
   * occur there.
   */
  private static void scatterNd(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value updates = ctx.input(1);
    if (b.opset() < 16) throw ctx.error("ScatterNd needs ONNX opset >= 16 (ScatterND reduction \"add\"), have " + b.opset());
    DType dt = updates.dtype();
    if (dt == DType.BOOL || dt == DType.STRING) throw ctx.unsupported("dtype", dt);
    Tensor zero = dt.isFloating() ? Tensor.fromDoubles(dt, new long[] {1}, new double[] {0})
        : Tensor.fromLongs(dt, new long[] {1}, new long[] {0});
    Value zeros = b.op("ConstantOfShape", List.of(int64(b, ctx.input(2))), Attrs.of("value", zero));
    ctx.setOutput(0, b.op("ScatterND", List.of(zeros, int64(b, ctx.input(0)), updates), Attrs.of("reduction", "add")));
  }

  /** One-input tf.where: coordinates of the nonzero elements, [N, rank] int64 (ONNX NonZero is [rank, N]). */
  private static void whereIndices(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    // Cast to bool maps NaN to true, as TF's "!= 0" test does.
    if (!NONZERO_TYPES.contains(x.dtype())) x = b.cast(x, DType.BOOL);
    Value nz = b.op("NonZero", x);
    ctx.setOutput(0, b.transpose(nz, 1, 0));
  }

  /**
   * TF OneHot gives an all-off row for an index of -1 or >= depth; ONNX OneHot counts negative indices from the
   * end, and ONNX Runtime has no OneHot kernel for int32 indices. Equal(indices, Range(depth)) + Where has TF's
   * semantics for every index and any indices type.
   */
  private static void oneHot(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value indices = int64(b, ctx.input(0));
    Value depth = int64(b, ctx.input(1));
    Value on = ctx.input(2);
    Value off = ctx.input(3);
    long axis = ctx.attrInt("axis", -1);
    Value range = b.op("Range", b.scalarLong(0), scalar(b, depth), b.scalarLong(1));
    Value eq;
    if (axis == -1) {
      eq = b.op("Equal", b.unsqueeze(indices, -1), range);
    } else {
      int r = rankOf(ctx, 0, "OneHot with axis " + axis);
      if (axis < 0 || axis > r) throw ctx.unsupported("axis", axis);
      // depth goes at `axis`; the range needs one trailing 1 per indices dim after it to broadcast there.
      int trailing = r - (int) axis;
      long[] ones = new long[trailing];
      for (int i = 0; i < trailing; i++) ones[i] = i + 1;
      Value rr = trailing == 0 ? range : b.unsqueeze(range, ones);
      eq = b.op("Equal", b.unsqueeze(indices, axis), rr);
    }
    ctx.setOutput(0, select(b, eq, scalar(b, on), scalar(b, off)));
  }

  /**
   * Where(cond, x, y) for any element type. ONNX Runtime has no CPU Where kernel for bool (selection becomes
   * And/Or, still exact) nor for narrow ints and halves (those select in a wider type that holds every value).
   */
  static Value select(OnnxBuilder b, Value cond, Value x, Value y) {
    DType dt = x.dtype();
    if (WHERE_TYPES.contains(dt)) return b.op("Where", cond, x, y);
    if (dt == DType.BOOL) {
      Value pick = b.op("And", cond, x);
      Tensor yc = y.constant();
      if (yc != null && yc.rank() == 0 && yc.getLong(0) == 0) return pick;
      return b.op("Or", pick, b.op("And", b.op("Not", cond), y));
    }
    DType wide = switch (dt) {
      case FLOAT16, BFLOAT16 -> DType.FLOAT;
      case UINT32, UINT64 -> DType.INT64;
      default -> DType.INT32;
    };
    return b.cast(b.op("Where", cond, b.cast(x, wide), b.cast(y, wide)), dt);
  }

  /** TF accepts some scalar operands as 1-element vectors where ONNX wants rank 0. */
  static Value scalar(OnnxBuilder b, Value v) {
    Shape s = v.shape();
    if (s.hasRank() && s.rank() == 0) return v;
    return b.reshape(v, b.constLongs());
  }
}
