package returnn.onnx.convert.handlers;

import returnn.onnx.convert.HandlerRegistry;

/** Nn op handlers. */
public final class NnHandlers {
  private NnHandlers() {}

  public static void register(HandlerRegistry r) {}
}
