package returnn.onnx.eval;

/**
 * Shapes of the com.microsoft ops the converter emits: fused activations and SkipLayerNormalization keep their input's
 * shape, the quantized MatMuls have MatMul's. Attention and MultiHeadAttention have no rule: their output
 * shapes stay unknown unless the code that emits them sets them.
 */
final class MicrosoftShapes {
  private MicrosoftShapes() {}

  static void register(ShapeRuleTable t) {
    t.put((n, x, opset) -> x, "QuickGelu", "FastGelu", "BiasGelu", "SkipLayerNormalization");
    t.put(NnShapes::matmul, "DynamicQuantizeMatMul", "MatMulIntegerToFloat");
  }
}
