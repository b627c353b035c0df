package returnn.onnx.convert.handlers;

import returnn.onnx.convert.HandlerRegistry;

/**
 * Array op handlers: shapes and reshapes ({@link ShapeOpHandlers}), slicing ({@link ArraySlicing}), joining and
 * splitting ({@link ArrayStacking}); gathering, padding and generators in {@link ArrayIndexingHandlers}.
 */
public final class ArrayHandlers {
  private ArrayHandlers() {}

  public static void register(HandlerRegistry r) {
    r.register("Shape", ShapeOpHandlers::shape);
    r.register("ShapeN", ShapeOpHandlers::shapeN);
    r.register("Size", ShapeOpHandlers::size);
    r.register("Rank", ShapeOpHandlers::rank);
    r.register("Reshape", ShapeOpHandlers::reshape);
    r.register("ExpandDims", ShapeOpHandlers::expandDims);
    r.register("Squeeze", ShapeOpHandlers::squeeze);
    r.register("Transpose", ShapeOpHandlers::transpose);
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
