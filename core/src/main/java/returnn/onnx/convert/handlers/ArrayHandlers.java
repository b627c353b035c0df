package returnn.onnx.convert.handlers;

import returnn.onnx.convert.HandlerRegistry;

/**
 * Array op handlers: shapes and reshapes ({@link ArrayShapes}), slicing ({@link ArraySlicing}), joining and
 * splitting ({@link ArrayStacking}); gathering, padding and generators in {@link ArrayIndexingHandlers}.
 */
public final class ArrayHandlers {
  private ArrayHandlers() {}

  public static void register(HandlerRegistry r) {
    r.register("Shape", ArrayShapes::shape);
    r.register("ShapeN", ArrayShapes::shapeN);
    r.register("Size", ArrayShapes::size);
    r.register("Rank", ArrayShapes::rank);
    r.register("Reshape", ArrayShapes::reshape);
    r.register("ExpandDims", ArrayShapes::expandDims);
    r.register("Squeeze", ArrayShapes::squeeze);
    r.register("Transpose", ArrayShapes::transpose);
    r.register("StridedSlice", ArraySlicing::stridedSlice);
    r.register("Slice", ArraySlicing::slice);
    r.register("Pack", ArrayStacking::pack);
    r.register("Unpack", ArrayStacking::unpack);
    r.register("ConcatV2", ArrayStacking::concatV2);
    r.register("Concat", ArrayStacking::concatV1);
    r.register("Split", ArrayStacking::split);
    r.register("SplitV", ArrayStacking::splitV);
    ArrayIndexingHandlers.register(r);
  }
}
