package returnn.onnx;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** What a conversion did: op histograms before and after, handlers used, rule counts, timings. */
public final class ConversionReport {
  public Map<String, Integer> tfOps = new TreeMap<>();
  public Map<String, Integer> onnxOps = new TreeMap<>();
  public Map<String, Integer> handlersUsed = new TreeMap<>();
  public Map<String, Integer> rulesFired = new TreeMap<>();
  public List<String> ruleNotes = new ArrayList<>();
  public List<String> fusions = new ArrayList<>();
  /** Declines shown even without explain: e.g. an LSTM kernel left as an exact (slower) Loop. */
  public List<String> warnings = new ArrayList<>();
  /** Exceptions shape inference and constant folding stepped over ({@link InternalErrors}): bugs, shown. */
  public List<String> internalErrors = new ArrayList<>();
  public List<String> inputs = new ArrayList<>();
  public List<String> outputs = new ArrayList<>();
  public long millisRead;
  public long millisConvert;
  public long millisWrite;
  public long outputBytes = -1;
  public int opset;

  /** A human-readable report for the CLI. */
  public String format() {
    return format(false);
  }

  /** The report; with {@code explain}, also why each fusion candidate was declined. */
  public String format(boolean explain) {
    StringBuilder sb = new StringBuilder();
    sb.append("inputs:  ").append(String.join(", ", inputs)).append('\n');
    sb.append("outputs: ").append(String.join(", ", outputs)).append('\n');
    sb.append(String.format("time: read %d ms, convert %d ms, write %d ms%n", millisRead, millisConvert, millisWrite));
    if (outputBytes >= 0) sb.append(String.format("model size: %,d bytes (opset %d)%n", outputBytes, opset));
    sb.append(histograms());
    if (!handlersUsed.isEmpty()) {
      sb.append("handlers used: ");
      List<String> l = new ArrayList<>();
      handlersUsed.forEach((k, v) -> l.add(k + " x" + v));
      sb.append(String.join(", ", l)).append('\n');
    }
    if (!rulesFired.isEmpty()) {
      sb.append("rules fired:\n");
      rulesFired.forEach((k, v) -> sb.append(String.format("  %-40s %d%n", k, v)));
    }
    if (!fusions.isEmpty()) {
      sb.append("fused:\n");
      for (String f : fusions) sb.append("  ").append(f).append('\n');
    }
    for (String w : warnings) sb.append("warning: ").append(w).append('\n');
    if (!internalErrors.isEmpty()) {
      sb.append("warning: ").append(internalErrors.size()).append(" internal error(s) in shape inference or constant folding "
          + "were stepped over (a fusion may have been declined because of them; the model is still exact)")
          .append(explain ? ":" : "; --explain-fusions lists them").append('\n');
      if (explain) for (String e : internalErrors) sb.append("  ").append(e).append('\n');
    }
    if (explain) {
      sb.append(ruleNotes.isEmpty() ? "no fusion candidate was declined\n" : "declined fusion candidates:\n");
      for (String n : ruleNotes) sb.append("  ").append(n).append('\n');
    }
    return sb.toString();
  }

  private String histograms() {
    StringBuilder sb = new StringBuilder();
    int tfTotal = tfOps.values().stream().mapToInt(Integer::intValue).sum();
    int onnxTotal = onnxOps.values().stream().mapToInt(Integer::intValue).sum();
    sb.append(String.format("%-34s %8s   %-34s %8s%n", "TF op (" + tfTotal + " nodes)", "count", "ONNX op (" + onnxTotal + " nodes)", "count"));
    List<Map.Entry<String, Integer>> a = new ArrayList<>(tfOps.entrySet());
    List<Map.Entry<String, Integer>> b = new ArrayList<>(onnxOps.entrySet());
    for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
      String l = i < a.size() ? String.format("%-34s %8d", a.get(i).getKey(), a.get(i).getValue()) : String.format("%-43s", "");
      String r = i < b.size() ? String.format("%-34s %8d", b.get(i).getKey(), b.get(i).getValue()) : "";
      sb.append(l).append("   ").append(r).append('\n');
    }
    return sb.toString();
  }
}
