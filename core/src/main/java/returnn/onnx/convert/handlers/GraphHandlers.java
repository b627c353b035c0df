package returnn.onnx.convert.handlers;

import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.convert.HandlerRegistry;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/**
 * Pass-through and variable ops. Placeholders, constants and variables themselves are graph inputs and constants
 * after import ({@link returnn.onnx.tf.TfImporter}); what remains here are their readers.
 */
public final class GraphHandlers {
  private GraphHandlers() {}

  public static void register(HandlerRegistry r) {
    for (String op : List.of("Identity", "Snapshot", "StopGradient", "PreventGradient", "CheckNumerics", "EnsureShape",
        "ReadVariableOp", "PlaceholderWithDefault")) {
      r.register(op, GraphHandlers::passThrough);
    }
    r.register("IdentityN", GraphHandlers::identityN);
    r.register("NoOp", ctx -> {});
    r.register("ResourceGather", GraphHandlers::resourceGather);
    r.register("RandomUniform", ctx -> random(ctx, "RandomUniformLike"));
    r.register("RandomStandardNormal", ctx -> random(ctx, "RandomNormalLike"));
  }

  /**
   * TF random ops (dropout branches behind {@code globals/train_flag}, only taken in training): the same
   * distribution, not the same numbers, since TF's and ONNX Runtime's generators differ. The shape is a run-time
   * input in TF, so the ONNX op draws "like" a zero tensor of that shape. From opset 22 on, ONNX Runtime 1.23 has no
   * kernel for RandomUniformLike / RandomNormalLike (nor Bernoulli, which expands to RandomUniformLike), but one for
   * Dropout: see {@link #uniformFromDropout}.
   */
  static void random(ConversionContext ctx, String onnxOp) {
    returnn.onnx.ir.DType dt = ctx.attrType("dtype");
    OnnxBuilder b = ctx.onnx();
    Value shape = b.cast(ctx.input(0), returnn.onnx.ir.DType.INT64);
    if (b.opset() >= 22) {
      Value r = onnxOp.equals("RandomUniformLike") ? uniformFromDropout(b, shape) : normalFromDropout(b, shape);
      ctx.setOutput(0, dt == returnn.onnx.ir.DType.FLOAT ? r : b.cast(r, dt));
      return;
    }
    Value zeros = b.op("ConstantOfShape", List.of(shape),
        Attrs.of("value", returnn.onnx.ir.Tensor.fromDoubles(dt, new long[] {1}, new double[] {0})));
    ctx.setOutput(0, b.op(onnxOp, List.of(zeros), Attrs.of("dtype", dt)));
  }

  /** Bits of a float32 uniform draw: TF's RandomUniform gives 23 random mantissa bits, this gives 24. */
  private static final int UNIFORM_BITS = 24;

  /**
   * Uniform float32 in [0, 1) of the given shape from 24 fair random bits per element: Dropout with ratio 0.5 in
   * training mode draws its mask as Bernoulli(0.5); {@code Σ bit_i · 2^-i} over i = 1..24 is uniform on the grid of
   * 2^-24 (every partial sum is exact in float32).
   */
  static Value uniformFromDropout(OnnxBuilder b, Value shape) {
    Value bitsShape = b.concat(List.of(shape, b.constLongs(UNIFORM_BITS)), 0);
    Value zeros = b.op("ConstantOfShape", List.of(bitsShape),
        Attrs.of("value", returnn.onnx.ir.Tensor.ofFloats(new long[] {1}, 0f)));
    List<Value> drop = b.node(returnn.onnx.ir.Node.ONNX, "Dropout", List.of(zeros,
        b.constant(returnn.onnx.ir.Tensor.ofFloats(new long[0], 0.5f)),
        b.constant(returnn.onnx.ir.Tensor.ofBools(new long[0], true))), Attrs.of(), 2);
    float[] weights = new float[UNIFORM_BITS];
    for (int i = 0; i < UNIFORM_BITS; i++) weights[i] = (float) Math.scalb(1.0, -(i + 1));
    Value bits = b.cast(drop.get(1), returnn.onnx.ir.DType.FLOAT);
    return b.op("MatMul", bits, b.constant(returnn.onnx.ir.Tensor.ofFloats(new long[] {UNIFORM_BITS}, weights)));
  }

  /** Standard normal by Box–Muller from two uniforms: sqrt(-2 ln(1 - u1)) · cos(2π u2). */
  static Value normalFromDropout(OnnxBuilder b, Value shape) {
    Value u1 = uniformFromDropout(b, shape);
    Value u2 = uniformFromDropout(b, shape);
    Value one = b.constant(returnn.onnx.ir.Tensor.ofFloats(new long[0], 1f));
    Value radius = b.op("Sqrt", b.op("Mul", b.constant(returnn.onnx.ir.Tensor.ofFloats(new long[0], -2f)),
        b.op("Log", b.op("Sub", one, u1))));
    Value angle = b.op("Mul", u2, b.constant(returnn.onnx.ir.Tensor.ofFloats(new long[0], (float) (2 * Math.PI))));
    return b.op("Mul", radius, b.op("Cos", angle));
  }

  /**
   * Identity-like ops become no node at all: consumers use the input directly. A graph output that ends up on a
   * graph input or constant gets its own Identity from the writer, so output names stay exact.
   */
  static void passThrough(ConversionContext ctx) {
    ctx.setOutput(0, ctx.input(0));
  }

  static void identityN(ConversionContext ctx) {
    for (int i = 0; i < ctx.outputCount(); i++) ctx.setOutput(i, ctx.input(i));
  }

  /** Embedding lookup on a resource variable; {@code batch_dims} other than 0 does not occur in RETURNN graphs. */
  static void resourceGather(ConversionContext ctx) {
    long batchDims = ctx.attrInt("batch_dims", 0);
    if (batchDims != 0) throw ctx.unsupported("batch_dims", batchDims);
    Value params = ctx.input(0);
    Value idx = ctx.input(1);
    ctx.setOutput(0, ctx.onnx().op("Gather", List.of(params, idx), Attrs.of("axis", 0)));
  }
}
