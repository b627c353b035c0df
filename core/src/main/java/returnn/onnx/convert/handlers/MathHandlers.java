package returnn.onnx.convert.handlers;

import returnn.onnx.convert.HandlerRegistry;

/** Math op handlers: elementwise arithmetic, unary math and activations, casts, comparisons and selection. */
public final class MathHandlers {
  private MathHandlers() {}

  public static void register(HandlerRegistry r) {
    MathArithmetic.register(r);
    MathUnary.register(r);
    MathLogic.register(r);
  }
}
