package returnn.onnx.rewrite.state;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * RETURNN's names for state inputs and outputs (returnn/tf/layers/rec.py, {@code initial_state: "placeholder"}):
 * {@code <scope>/initial_state_placeholder_<key>} and {@code <scope>/last_state_<key>}, where the scope is
 * {@code L/rec} for an LSTM layer L and the layer itself for self-attention
 * ({@code output/rec/dec_0_self_att_att/initial_state_placeholder_k_left}). States the converter exposes itself get the
 * same names, so a model reads the same way whichever form it was built in.
 */
final class StateNames {
  private static final Pattern INPUT = Pattern.compile("(.*)/initial_state_placeholder_([A-Za-z0-9_]+)");
  private static final String REC = "/rec/";

  private StateNames() {}

  static String input(String scope, String key) {
    return scope + "/initial_state_placeholder_" + key;
  }

  static String output(String scope, String key) {
    return scope + "/last_state_" + key;
  }

  /** The final-state name paired with a state input name, or null if the name is not a state input's. */
  static String outputFor(String inputName) {
    Matcher m = INPUT.matcher(inputName);
    return m.matches() ? output(m.group(1), m.group(2)) : null;
  }

  static boolean isStateInput(String name) {
    return INPUT.matcher(name).matches();
  }

  /**
   * The scope of an LSTM layer from its kernel's TF name: up to RETURNN's {@code /rec} ({@code lstm0/rec/NativeLstm2}
   * and {@code lstm0/rec/lstm_fused_cell/BlockLSTM} both give {@code lstm0/rec}), else the kernel's own scope.
   */
  static String lstmScope(String tfName) {
    int rec = tfName.lastIndexOf(REC);
    if (rec >= 0) return tfName.substring(0, rec + REC.length() - 1);
    return parent(tfName);
  }

  /** The scope of a self-attention layer: the layer the fused node's TF root ({@code L/merge_vdim}) lives in. */
  static String attentionScope(String tfName) {
    return parent(tfName);
  }

  private static String parent(String tfName) {
    int slash = tfName.lastIndexOf('/');
    return slash > 0 ? tfName.substring(0, slash) : tfName;
  }
}
