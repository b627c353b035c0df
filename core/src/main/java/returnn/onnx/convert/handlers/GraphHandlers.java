package returnn.onnx.convert.handlers;

import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.convert.HandlerRegistry;
import returnn.onnx.ir.Value;
import returnn.onnx.ops.Attrs;

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
   * input in TF, so the ONNX op draws "like" a zero tensor of that shape.
   */
  static void random(ConversionContext ctx, String onnxOp) {
    returnn.onnx.ir.DType dt = ctx.attrType("dtype");
    Value shape = ctx.onnx().cast(ctx.input(0), returnn.onnx.ir.DType.INT64);
    Value zeros = ctx.onnx().op("ConstantOfShape", List.of(shape),
        Attrs.of("value", returnn.onnx.ir.Tensor.fromDoubles(dt, new long[] {1}, new double[] {0})));
    ctx.setOutput(0, ctx.onnx().op(onnxOp, List.of(zeros), Attrs.of("dtype", dt)));
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
