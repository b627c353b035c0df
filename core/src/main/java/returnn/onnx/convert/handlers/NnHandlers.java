package returnn.onnx.convert.handlers;

import returnn.onnx.convert.HandlerRegistry;

/**
 * Neural-network ops and reductions: matrix products ({@link NnMatMul}), convolutions and pools ({@link NnConv}),
 * batch norm and softmax ({@link NnNorm}), reductions, arg/top-k and cumulative sums ({@link NnReduce}).
 */
public final class NnHandlers {
  private NnHandlers() {}

  public static void register(HandlerRegistry r) {
    r.register("MatMul", NnMatMul::matMul);
    for (String op : new String[] {"BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"}) r.register(op, NnMatMul::batchMatMul);
    r.register("BiasAdd", NnMatMul::biasAdd);
    r.register("BiasAddV1", NnMatMul::biasAdd);
    r.register("Einsum", NnMatMul::einsum);

    r.register("Conv2D", NnConv::conv2d);
    r.register("DepthwiseConv2dNative", NnConv::depthwiseConv2d);
    r.register("Conv2DBackpropInput", NnConv::conv2dBackpropInput);
    r.register("SpaceToBatchND", NnSpaceToBatch::spaceToBatch);
    r.register("BatchToSpaceND", NnSpaceToBatch::batchToSpace);
    r.register("MaxPool", NnConv::pool);
    r.register("MaxPoolV2", NnConv::pool);
    r.register("AvgPool", NnConv::pool);

    for (String op : new String[] {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}) r.register(op, NnNorm::fusedBatchNorm);
    r.register("Softmax", ctx -> NnNorm.softmax(ctx, "Softmax"));
    r.register("LogSoftmax", ctx -> NnNorm.softmax(ctx, "LogSoftmax"));

    for (String op : new String[] {"Mean", "Sum", "Max", "Min", "Prod", "All", "Any"}) r.register(op, NnReduce::reduce);
    r.register("ArgMax", NnReduce::argMinMax);
    r.register("ArgMin", NnReduce::argMinMax);
    r.register("TopKV2", NnReduce::topK);
    r.register("Cumsum", NnReduce::cumsum);
  }
}
