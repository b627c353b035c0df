package returnn.onnx.quantize;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** What quantization did: each node quantized (op before and after, weight bytes), each candidate kept fp32 and why. */
public final class QuantizationReport {
  /** One quantized node; {@code bytesBefore}/{@code bytesAfter} count its weight constants (int8 + scales + zero points after). */
  public record Quantized(String node, String from, String to, String weight, long bytesBefore, long bytesAfter) {}

  /** A candidate left in fp32. */
  public record Kept(String node, String op, String reason) {}

  private final String options;
  private final List<Quantized> quantized = new ArrayList<>();
  private final List<Kept> kept = new ArrayList<>();
  long weightBytesBefore;
  long weightBytesAfter;
  long millis;

  QuantizationReport(String options) {
    this.options = options;
  }

  void quantized(String node, String from, String to, String weight, long before, long after) {
    quantized.add(new Quantized(node, from, to, weight, before, after));
  }

  void kept(String node, String op, String reason) {
    kept.add(new Kept(node, op, reason));
  }

  /**
   * The nodes quantized.
   *
   * @return an unmodifiable list, in the order quantized
   */
  public List<Quantized> quantized() {
    return List.copyOf(quantized);
  }

  /**
   * The candidates kept in fp32, with why.
   *
   * @return an unmodifiable list
   */
  public List<Kept> kept() {
    return List.copyOf(kept);
  }

  /**
   * Quantized node count per rewrite ("MatMul -&gt; com.microsoft.DynamicQuantizeMatMul" → 3).
   *
   * @return the counts, sorted by rewrite
   */
  public Map<String, Integer> counts() {
    Map<String, Integer> m = new TreeMap<>();
    for (Quantized q : quantized) m.merge(q.from() + " -> " + q.to(), 1, Integer::sum);
    return m;
  }

  /**
   * Bytes of all constants (weights) of the model before quantization.
   *
   * @return the bytes
   */
  public long weightBytesBefore() {
    return weightBytesBefore;
  }

  /**
   * Bytes of all constants (weights) of the model after quantization.
   *
   * @return the bytes
   */
  public long weightBytesAfter() {
    return weightBytesAfter;
  }

  /**
   * How long quantization took.
   *
   * @return milliseconds
   */
  public long millis() {
    return millis;
  }

  /**
   * A human-readable report: per node, kept candidates grouped by reason, and the weight sizes.
   *
   * @return the report, lines ending in newlines
   */
  public String format() {
    StringBuilder sb = new StringBuilder("quantization: ").append(options).append('\n');
    if (quantized.isEmpty()) sb.append("  nothing quantized\n");
    for (Quantized q : quantized) {
      sb.append(String.format("  %-52s %-6s -> %-46s %-18s %,12d -> %,11d bytes%n", q.node(), q.from(), q.to(), q.weight(),
          q.bytesBefore(), q.bytesAfter()));
    }
    Map<String, List<String>> byReason = new LinkedHashMap<>();
    for (Kept k : kept) byReason.computeIfAbsent(k.op() + ": " + k.reason(), r -> new ArrayList<>()).add(k.node());
    if (!byReason.isEmpty()) sb.append("kept in fp32:\n");
    byReason.forEach((reason, nodes) -> {
      String shown = String.join(", ", nodes.subList(0, Math.min(4, nodes.size())));
      sb.append(String.format("  %d x %s (%s%s)%n", nodes.size(), reason, shown, nodes.size() > 4 ? ", ..." : ""));
    });
    if (!quantized.isEmpty()) sb.append("quantized:\n");
    counts().forEach((k, v) -> sb.append(String.format("  %-62s %d%n", k, v)));
    sb.append(String.format("weights: %,d -> %,d bytes (%.2fx smaller), quantized in %d ms%n", weightBytesBefore,
        weightBytesAfter, weightBytesAfter == 0 ? 0.0 : (double) weightBytesBefore / weightBytesAfter, millis));
    return sb.toString();
  }
}
