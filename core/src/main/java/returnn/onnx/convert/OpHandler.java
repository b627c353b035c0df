package returnn.onnx.convert;

/**
 * Converts one TF op type into ONNX ops: reads the TF node's inputs and attributes from the context, emits ONNX
 * ops through {@link ConversionContext#onnx()}, and sets one value per TF output that is used.
 */
@FunctionalInterface
public interface OpHandler {
  void convert(ConversionContext ctx);
}
