package returnn.onnx.convert.handlers;

import returnn.onnx.convert.ConversionContext;
import returnn.onnx.convert.HandlerRegistry;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/**
 * TF 2's TensorLists (what {@code TensorArray} is under control flow v2) as dense tensors {@code [size, element...]}:
 * {@code TensorListFromTensor} (unstack) is its tensor, {@code TensorListGetItem} a Gather, {@code TensorListStack} the
 * tensor itself, the length its first dim. Lists a loop writes at the iteration number are made dense by
 * {@code rewrite.functional.WhileConversion} (the Loop's scan output, padded to the reserved size); a list filled in
 * another way is an error at its {@code TensorListReserve}.
 */
public final class TensorListHandlers {
  private TensorListHandlers() {}

  public static void register(HandlerRegistry r) {
    r.register("TensorListFromTensor", ctx -> ctx.setOutput(0, ctx.input(0)));
    r.register("TensorListStack", ctx -> ctx.setOutput(0, ctx.input(0)));
    r.register("TensorListGetItem", ctx -> ctx.setOutput(0, ctx.onnx().gather(ctx.input(0), ctx.input(1), 0)));
    r.register("TensorListLength", TensorListHandlers::length);
    r.register("TensorListElementShape", TensorListHandlers::elementShape);
    r.register("TensorListReserve", ctx -> {
      throw ctx.error("is a TensorList that is not filled by a loop writing one element per iteration at the iteration "
          + "number (TensorListSetItem in a While body); only such lists and lists made by TensorListFromTensor are "
          + "supported");
    });
  }

  private static void length(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value first = b.gather(b.shapeOf(ctx.input(0)), b.scalarLong(0), 0);
    ctx.setOutput(0, b.cast(first, DType.INT32));
  }

  private static void elementShape(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value rest = b.slice(b.shapeOf(ctx.input(0)), new long[] {1}, new long[] {Long.MAX_VALUE}, new long[] {0}, null);
    DType t = ctx.attrType("shape_type");
    ctx.setOutput(0, b.cast(rest, t == null ? DType.INT32 : t));
  }
}
