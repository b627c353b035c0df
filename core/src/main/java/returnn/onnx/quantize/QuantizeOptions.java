package returnn.onnx.quantize;

import java.util.List;

/**
 * How to quantize weights to int8 (dynamic quantization: weights are int8 constants, activations are quantized by the
 * runtime on every call).
 *
 * @param perChannel one scale per output column of a MatMul/Gemm weight, per gate row of an LSTM weight, per row of an
 *     embedding table; otherwise one scale per tensor (per direction for LSTMs)
 * @param fullRange weights in [-127, 127] instead of the default [-64, 64]. On x86 CPUs without VNNI (AVX2, AVX-512
 *     before VNNI) ONNX Runtime multiplies uint8 activations by int8 weights with {@code vpmaddubsw}, whose 16-bit sums
 *     of two products saturate once weights pass 64 (255·127·2 > 32767; 255·64·2 = 32640 does not), and the results
 *     are then wrong by up to half the output's size (measured: Int8AccuracyTest). Full range halves the weight
 *     rounding error and is safe on CPUs with VNNI and on ARM.
 * @param standardOps MatMul/Gemm as the standard ONNX chain {@code DynamicQuantizeLinear → MatMulInteger → Cast → Mul}
 *     instead of {@code com.microsoft.DynamicQuantizeMatMul} (for runtimes without ONNX Runtime's contrib ops); LSTMs
 *     then stay fp32, as standard ONNX has no int8 LSTM
 * @param exclude node name patterns kept in fp32 ({@link ExcludePatterns})
 */
public record QuantizeOptions(boolean perChannel, boolean fullRange, boolean standardOps, List<String> exclude) {
  public QuantizeOptions {
    exclude = exclude == null ? List.of() : List.copyOf(exclude);
  }

  /** Per-tensor, weights in [-64, 64], ONNX Runtime contrib ops, nothing excluded. */
  public static QuantizeOptions defaults() {
    return new QuantizeOptions(false, false, false, List.of());
  }

  public QuantizeOptions withPerChannel(boolean v) {
    return new QuantizeOptions(v, fullRange, standardOps, exclude);
  }

  public QuantizeOptions withFullRange(boolean v) {
    return new QuantizeOptions(perChannel, v, standardOps, exclude);
  }

  public QuantizeOptions withStandardOps(boolean v) {
    return new QuantizeOptions(perChannel, fullRange, v, exclude);
  }

  public QuantizeOptions withExclude(List<String> patterns) {
    return new QuantizeOptions(perChannel, fullRange, standardOps, patterns);
  }

  /** The largest quantized magnitude. */
  int qmax() {
    return fullRange ? 127 : 64;
  }

  /** One line for model metadata and reports. */
  public String describe() {
    return "int8 dynamic, " + (perChannel ? "per-channel" : "per-tensor") + (fullRange ? ", full range" : ", range [-64, 64]")
        + (standardOps ? ", standard ONNX ops" : ", com.microsoft ops")
        + (exclude.isEmpty() ? "" : ", excluding " + String.join(",", exclude));
  }
}
