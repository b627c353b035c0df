package returnn.onnx.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The results of {@code bench --graph} as a markdown table and a summary against the targets. Rows come in a fixed
 * order: TF, unfused fp32, unfused int8, fused fp32, fused int8, and optionally the hand-written fused model.
 */
final class BenchTable {
  static final int TF = 0, UNFUSED_FP32 = 1, UNFUSED_INT8 = 2, FUSED_FP32 = 3, FUSED_INT8 = 4, HAND_WRITTEN = 5;

  private final List<String> names;
  private final List<Long> bytes;
  /** Milliseconds per row, pass and sequence. */
  private final double[][][] ms;
  private final TaskMetric metric;

  BenchTable(List<String> names, List<Long> bytes, double[][][] ms, TaskMetric metric) {
    this.names = names;
    this.bytes = bytes;
    this.ms = ms;
    this.metric = metric;
  }

  List<String> names() {
    return names;
  }

  /** Per row, the total seconds: the median over the timed passes. */
  List<Double> totalSeconds() {
    List<Double> l = new ArrayList<>();
    for (int r = 0; r < names.size(); r++) l.add(total(r) / 1000);
    return l;
  }

  /** Per row, the standard deviation of the total seconds over the timed passes (0 for one pass). */
  List<Double> totalSecondsDeviation() {
    List<Double> l = new ArrayList<>();
    for (double[][] row : ms) {
      double[] t = Arrays.stream(row).mapToDouble(p -> Arrays.stream(p).sum() / 1000).toArray();
      double mean = Arrays.stream(t).average().orElse(0);
      l.add(t.length < 2 ? 0 : Math.sqrt(Arrays.stream(t).map(v -> (v - mean) * (v - mean)).sum() / (t.length - 1)));
    }
    return l;
  }

  String markdown() {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format("| %-37s | %9s | %11s | %11s | %9s | %-18s | %8s |%n", "model", "total (s)", "median (ms)", "p90 (ms)",
        "size (MB)", metric.header("TF"), "vs TF"));
    sb.append("|").append("-".repeat(39)).append("|----------:|------------:|------------:|----------:|").append("-".repeat(20))
        .append("|---------:|\n");
    for (int r = 0; r < names.size(); r++) {
      double[] calls = calls(r);
      sb.append(String.format("| %-37s | %9.2f | %11.2f | %11.2f | %9.1f | %-18s | %7.2fx |%n", names.get(r), total(r) / 1000,
          percentile(calls, 0.5), percentile(calls, 0.9), bytes.get(r) / 1e6, metric.format(r, TF), speedup(TF, r)));
    }
    return sb.toString();
  }

  /** The ratios the targets are stated in. */
  String summary() {
    StringBuilder sb = new StringBuilder();
    if (names.size() > HAND_WRITTEN) {
      sb.append(String.format("converted fused fp32 / hand-written fused fp32: %.3fx the time (target <= 1.05x)%n",
          1 / speedup(FUSED_FP32, HAND_WRITTEN)));
    }
    sb.append(String.format("fused fp32 vs TF: %.2fx faster; fused int8 vs TF: %.2fx faster%s%n", speedup(TF, FUSED_FP32),
        speedup(TF, FUSED_INT8), metric.isLm() ? " (target >= 4x)" : ""));
    sb.append(String.format("fused int8 vs fused fp32: %.2fx faster%s; unfused int8 vs unfused fp32: %.2fx faster%n",
        speedup(FUSED_FP32, FUSED_INT8), metric.isLm() ? "" : " (target >= 1.5x)", speedup(UNFUSED_FP32, UNFUSED_INT8)));
    if (metric.isLm()) {
      double fp32 = metric.perplexity(FUSED_FP32), int8 = metric.perplexity(FUSED_INT8), tf = metric.perplexity(TF);
      sb.append(String.format("int8 perplexity vs fp32: %.5g vs %.5g, %+.3f%% (target within 1%%)%n", int8, fp32, 100 * (int8 / fp32 - 1)));
      sb.append(String.format("fp32 perplexity vs TF: %.6g vs %.6g, equal to 4 significant digits: %s%n", fp32, tf,
          String.format("%.4g", fp32).equals(String.format("%.4g", tf)) ? "yes" : "NO"));
    } else {
      sb.append(String.format("fused int8 frames agreeing with fused fp32 (argmax): %.2f%% (target >= 99%%)%n",
          100 * (1 - metric.frameError(FUSED_INT8, FUSED_FP32))));
    }
    return sb.toString();
  }

  /** Median over passes of the sum over sequences. */
  private double total(int row) {
    double[] t = new double[ms[row].length];
    for (int p = 0; p < t.length; p++) t[p] = Arrays.stream(ms[row][p]).sum();
    return percentile(t, 0.5);
  }

  /** How many times faster {@code row} is than {@code base}: the median over passes of the ratio of their totals. */
  private double speedup(int base, int row) {
    double[] ratio = new double[ms[row].length];
    for (int p = 0; p < ratio.length; p++) ratio[p] = Arrays.stream(ms[base][p]).sum() / Arrays.stream(ms[row][p]).sum();
    return percentile(ratio, 0.5);
  }

  private double[] calls(int row) {
    return Arrays.stream(ms[row]).flatMapToDouble(Arrays::stream).toArray();
  }

  /** The q-quantile by the nearest-rank method; the median of an even count is the mean of the middle two. */
  static double percentile(double[] v, double q) {
    double[] s = v.clone();
    Arrays.sort(s);
    if (q == 0.5 && s.length % 2 == 0) return (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    return s[Math.min(s.length - 1, (int) Math.ceil(q * s.length) - 1)];
  }
}
