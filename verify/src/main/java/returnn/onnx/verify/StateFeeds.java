package returnn.onnx.verify;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.rewrite.state.StateMapping;

/**
 * Verifying a model converted with {@code --state}: ONNX Runtime runs it from fresh states (zeros fed to its plain state
 * inputs, or their defaults with {@code --state-defaults}), TensorFlow gets the same fresh states for RETURNN's state
 * placeholders, and the states the converter exposed itself ({@code origin: automatic}) have no TF tensor to compare
 * with.
 */
final class StateFeeds {
  private StateFeeds() {}

  static StateMapping of(Map<String, String> metadata) {
    String json = metadata.get(StateMapping.METADATA_KEY);
    return json == null ? null : StateMapping.fromJson(json);
  }

  /** The outputs that have a TF counterpart. */
  static List<String> comparable(List<String> outputs, StateMapping states) {
    List<String> l = new ArrayList<>(outputs);
    if (states != null) {
      for (StateMapping.Entry e : states.entries()) if (e.origin() == StateMapping.Origin.AUTOMATIC) l.remove(e.output());
    }
    return l;
  }

  /** {@code feeds} plus a fresh state (zeros, no previous frames) for each state placeholder, batch from the feeds. */
  static Map<String, Tensor> withFreshStates(Map<String, Tensor> feeds, StateMapping states) {
    return withFreshStates(feeds, states, false);
  }

  /** True if {@code name} is one of the state inputs. */
  static boolean isState(String name, StateMapping states) {
    return states != null && (states.inputs().contains(name) || name.equals(states.prefixLength()));
  }

  /**
   * {@code feeds} plus a fresh state for each state placeholder and, with {@code plainAutomatic}, for each state input
   * the converter exposed that has no default (what ONNX Runtime needs; TensorFlow has no such inputs).
   */
  static Map<String, Tensor> withFreshStates(Map<String, Tensor> feeds, StateMapping states, boolean plainAutomatic) {
    Map<String, Tensor> all = new LinkedHashMap<>(feeds);
    if (states == null || feeds.isEmpty()) return all;
    long batch = feeds.values().iterator().next().shape()[0];
    for (StateMapping.Entry e : states.entries()) {
      boolean wanted = e.origin() == StateMapping.Origin.PLACEHOLDER || (plainAutomatic && !e.hasDefault());
      if (!wanted || all.containsKey(e.input())) continue;
      Shape s = e.inputShape();
      long[] dims = new long[s.rank()];
      for (int i = 0; i < dims.length; i++) {
        Dim d = s.dim(i);
        dims[i] = i == 0 ? batch : d.isFixed() ? d.value() : 0;
      }
      all.put(e.input(), Tensor.fromDoubles(e.dtype(), dims, new double[(int) Tensor.count(dims)]));
    }
    if (plainAutomatic && states.prefixLength() != null && !all.containsKey(states.prefixLength())) {
      all.put(states.prefixLength(), Tensor.ofInts(new long[] {batch}, new int[(int) batch])); // no past frames
    }
    return all;
  }
}
