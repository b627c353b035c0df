package returnn.onnx.cli;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Wall times of model calls: mean and percentiles for the reports of {@code score} and {@code stream}. */
final class StepTimes {
  private StepTimes() {}

  /** "mean 0.81 ms, p50 0.79 ms, p95 0.95 ms, max 1.20 ms over 25 calls". */
  static String format(List<Long> nanos) {
    if (nanos.isEmpty()) return "no calls";
    List<Long> sorted = new ArrayList<>(nanos);
    Collections.sort(sorted);
    double mean = sorted.stream().mapToLong(Long::longValue).average().orElse(0);
    return String.format("mean %.3f ms, p50 %.3f ms, p95 %.3f ms, max %.3f ms over %d calls", mean / 1e6,
        percentile(sorted, 0.5) / 1e6, percentile(sorted, 0.95) / 1e6, sorted.get(sorted.size() - 1) / 1e6, sorted.size());
  }

  private static double percentile(List<Long> sorted, double p) {
    return sorted.get((int) Math.min(sorted.size() - 1, Math.ceil(p * sorted.size()) - 1));
  }
}
