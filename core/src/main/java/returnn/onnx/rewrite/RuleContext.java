package returnn.onnx.rewrite;

import java.util.ArrayList;
import java.util.List;

/** Per-run state for rules: target opset and the reasons rules gave when they declined a candidate. */
public final class RuleContext {
  private final int opset;
  private final List<String> declined = new ArrayList<>();
  private final List<String> fused = new ArrayList<>();
  private final List<String> warnings = new ArrayList<>();

  public RuleContext(int opset) {
    this.opset = opset;
  }

  public int opset() {
    return opset;
  }

  public void decline(String rule, String where, String reason) {
    // Rules run to a fixed point, so a candidate declined in one round is seen again in the next: report it once.
    String note = rule + " declined at " + where + ": " + reason;
    if (!declined.contains(note)) declined.add(note);
  }

  /**
   * A decline the user should see without {@code --explain-fusions}: a construct the rule recognised (an LSTM kernel)
   * stays in its slower exact form.
   */
  public void warn(String rule, String where, String reason) {
    decline(rule, where, reason);
    String note = where + " is not fused (" + rule + "): " + reason;
    if (!warnings.contains(note)) warnings.add(note);
  }

  public List<String> warnings() {
    return warnings;
  }

  public List<String> declined() {
    return declined;
  }

  /** Records what a rule fused ("NativeLstm2 'lstm0_fw/rec/NativeLstm2' → LSTM forward"), for the convert report. */
  public void fused(String rule, String what) {
    fused.add(rule + ": " + what);
  }

  public List<String> fused() {
    return fused;
  }
}
