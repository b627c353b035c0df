package returnn.onnx.convert.handlers;

import returnn.onnx.convert.HandlerRegistry;

/** Array op handlers. */
public final class ArrayHandlers {
  private ArrayHandlers() {}

  public static void register(HandlerRegistry r) {}
}
