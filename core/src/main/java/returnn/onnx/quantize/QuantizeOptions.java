package returnn.onnx.quantize;

import java.util.List;

/**
 * How to quantize weights to int8 (dynamic quantization: weights are int8 constants, activations are quantized by the
 * runtime on every call).
 *
 * @param perChannel one scale per output column of a MatMul/Gemm weight, per gate row of an LSTM weight, per row of an
 *     embedding table; otherwise one scale per tensor (per direction for LSTMs)
 * @param range the magnitude GEMM weights are scaled to ({@link Range})
 * @param standardOps MatMul/Gemm as the standard ONNX chain {@code DynamicQuantizeLinear → MatMulInteger → Cast → Mul}
 *     instead of {@code com.microsoft.DynamicQuantizeMatMul} (for runtimes without ONNX Runtime's contrib ops); LSTMs
 *     then stay fp32, as standard ONNX has no int8 LSTM
 * @param exclude node name patterns kept in fp32 ({@link ExcludePatterns})
 */
public record QuantizeOptions(boolean perChannel, Range range, boolean standardOps, List<String> exclude) {
  /**
   * The range of int8 weights read by integer GEMMs. On x86 CPUs without VNNI (AVX2, AVX-512 before VNNI) ONNX Runtime
   * multiplies uint8 activations by int8 weights with {@code vpmaddubsw}, whose 16-bit sums of two products saturate
   * once two neighbouring weights pass 64 (255·127·2 > 32767; 255·64·2 = 32640 does not); the results are then wrong by
   * up to half the output's size. Per channel, every column reaches ±127 and saturation is common (Int8AccuracyTest
   * misses its error bound by 10x); per tensor, only the few largest weights do, and ONNX Runtime's own quantizer uses
   * the full range by default. Embedding tables are not read by a GEMM and always use the full range.
   */
  public enum Range {
    /** [-127, 127] per tensor, [-64, 64] per channel. */
    AUTO,
    /** [-127, 127]: half the rounding error; safe on CPUs with VNNI and on ARM. */
    FULL,
    /** [-64, 64]: never saturates. */
    REDUCED
  }

  /**
   * The options; null {@code range} is {@link Range#AUTO}, null {@code exclude} is none.
   *
   * @param perChannel one scale per output channel instead of per tensor
   * @param range the magnitude GEMM weights are scaled to
   * @param standardOps standard ONNX ops instead of com.microsoft ones for MatMul/Gemm
   * @param exclude node name patterns kept in fp32
   */
  public QuantizeOptions {
    range = range == null ? Range.AUTO : range;
    exclude = exclude == null ? List.of() : List.copyOf(exclude);
  }

  /**
   * Per-tensor, full range, ONNX Runtime contrib ops, nothing excluded.
   *
   * @return the options
   */
  public static QuantizeOptions defaults() {
    return new QuantizeOptions(false, Range.AUTO, false, List.of());
  }

  /**
   * These options with {@code perChannel} set.
   *
   * @param v one scale per output channel
   * @return new options
   */
  public QuantizeOptions withPerChannel(boolean v) {
    return new QuantizeOptions(v, range, standardOps, exclude);
  }

  /**
   * These options with {@code range} set.
   *
   * @param r the range of GEMM weights
   * @return new options
   */
  public QuantizeOptions withRange(Range r) {
    return new QuantizeOptions(perChannel, r, standardOps, exclude);
  }

  /**
   * These options with {@code standardOps} set.
   *
   * @param v standard ONNX ops for MatMul/Gemm (LSTMs then stay fp32)
   * @return new options
   */
  public QuantizeOptions withStandardOps(boolean v) {
    return new QuantizeOptions(perChannel, range, v, exclude);
  }

  /**
   * These options with {@code exclude} set.
   *
   * @param patterns node names, scopes or globs with {@code *} and {@code ?} kept in fp32
   * @return new options
   */
  public QuantizeOptions withExclude(List<String> patterns) {
    return new QuantizeOptions(perChannel, range, standardOps, patterns);
  }

  /** The largest quantized magnitude of GEMM weights. */
  int qmax() {
    return range == Range.FULL || (range == Range.AUTO && !perChannel) ? 127 : 64;
  }

  /**
   * One line for model metadata and reports.
   *
   * @return e.g. {@code int8 dynamic, per-tensor, weights in [-127, 127], com.microsoft ops}
   */
  public String describe() {
    return "int8 dynamic, " + (perChannel ? "per-channel" : "per-tensor") + ", weights in [-" + qmax() + ", " + qmax() + "]"
        + (standardOps ? ", standard ONNX ops" : ", com.microsoft ops")
        + (exclude.isEmpty() ? "" : ", excluding " + String.join(",", exclude));
  }
}
