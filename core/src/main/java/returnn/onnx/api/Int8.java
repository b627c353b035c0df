package returnn.onnx.api;

import returnn.onnx.quantize.QuantizeOptions;

/**
 * Dynamic int8 quantization settings for {@link Conversion#quantize(QuantizeOptions)}: weights of MatMul, Gemm, LSTM
 * and embedding tables become int8 with float scales; activations stay float and are quantized by ONNX Runtime on
 * every call. Refine the result with {@link QuantizeOptions#withExclude}, {@link QuantizeOptions#withRange} and
 * {@link QuantizeOptions#withStandardOps}, e.g. {@code Int8.perTensor().withExclude(List.of("output"))}.
 */
public final class Int8 {
  private Int8() {}

  /**
   * One scale per weight tensor (per direction for LSTMs), the full int8 range, ONNX Runtime's contrib ops; what
   * {@code convert --quantize int8} does.
   *
   * @return the settings
   */
  public static QuantizeOptions perTensor() {
    return QuantizeOptions.defaults();
  }

  /**
   * One scale per output channel (MatMul/Gemm column, LSTM gate row, embedding row), weights in [-64, 64];
   * what {@code convert --quantize int8 --per-channel} does.
   *
   * @return the settings
   */
  public static QuantizeOptions perChannel() {
    return QuantizeOptions.defaults().withPerChannel(true);
  }
}
