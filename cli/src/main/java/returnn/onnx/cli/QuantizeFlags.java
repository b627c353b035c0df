package returnn.onnx.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;
import returnn.onnx.quantize.QuantizeOptions;

/** The quantization options shared by {@code quantize} and {@code convert --quantize int8} (a picocli mixin). */
final class QuantizeFlags {
  @Option(names = "--per-channel", description = "One scale per output channel (MatMul/Gemm column, LSTM gate row, embedding row) instead of per tensor.")
  boolean perChannel;

  @Option(names = "--weight-range", paramLabel = "auto|full|reduced", description = "Int8 range of MatMul/Gemm/LSTM weights: "
      + "full [-127,127], reduced [-64,64] (ONNX Runtime's int8 kernels saturate with full-range weights on x86 CPUs "
      + "without VNNI), auto (default): full per tensor, reduced per channel.")
  String weightRange;

  @Option(names = "--standard-ops", description = "MatMul/Gemm as standard ONNX DynamicQuantizeLinear + MatMulInteger "
      + "instead of com.microsoft.DynamicQuantizeMatMul (LSTMs then stay fp32).")
  boolean standardOps;

  @Option(names = "--exclude", split = ",", description = "Keep these nodes in fp32: names, scopes (e.g. 'output' for the "
      + "output softmax layer) or globs with * and ?; comma separated.")
  List<String> exclude = new ArrayList<>();

  QuantizeOptions options() {
    return new QuantizeOptions(perChannel, range(), standardOps, exclude);
  }

  private QuantizeOptions.Range range() {
    if (weightRange == null) return QuantizeOptions.Range.AUTO;
    return switch (weightRange) {
      case "auto" -> QuantizeOptions.Range.AUTO;
      case "full" -> QuantizeOptions.Range.FULL;
      case "reduced" -> QuantizeOptions.Range.REDUCED;
      default -> throw new IllegalArgumentException("--weight-range " + weightRange + " is not one of auto, full, reduced");
    };
  }

  boolean anyGiven() {
    return perChannel || weightRange != null || standardOps || !exclude.isEmpty();
  }

  /**
   * For {@code convert}: the quantization {@code --quantize int8} asks for (the converter applies it and records it
   * in the metadata), or null when {@code mode} is null.
   */
  QuantizeOptions forConvert(String mode) {
    if (mode == null) {
      if (anyGiven()) throw new IllegalArgumentException("--per-channel, --weight-range, --standard-ops and --exclude need --quantize int8");
      return null;
    }
    if (!mode.equals("int8")) throw new IllegalArgumentException("--quantize " + mode + " is not supported (int8 is)");
    return options();
  }
}
