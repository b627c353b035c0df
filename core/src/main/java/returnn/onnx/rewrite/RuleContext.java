package returnn.onnx.rewrite;

import java.util.ArrayList;
import java.util.List;

/** Per-run state for rules: target opset and the reasons rules gave when they declined a candidate. */
public final class RuleContext {
  private final int opset;
  private final List<String> declined = new ArrayList<>();

  public RuleContext(int opset) {
    this.opset = opset;
  }

  public int opset() {
    return opset;
  }

  public void decline(String rule, String where, String reason) {
    declined.add(rule + " declined at " + where + ": " + reason);
  }

  public List<String> declined() {
    return declined;
  }
}
