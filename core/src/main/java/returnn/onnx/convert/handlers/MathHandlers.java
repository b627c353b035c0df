package returnn.onnx.convert.handlers;

import returnn.onnx.convert.HandlerRegistry;

/** Math op handlers. */
public final class MathHandlers {
  private MathHandlers() {}

  public static void register(HandlerRegistry r) {}
}
