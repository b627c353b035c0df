package returnn.onnx.runtime;

import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ir.Tensor;

/**
 * ONNX Runtime 1.23's CPU attention kernels divide by the length of an empty time or batch axis: a fused
 * {@code com.microsoft.MultiHeadAttention} model fed a [B,0,F] or [0,T,F] input kills the whole JVM with SIGFPE
 * (no exception, no cleanup). A model using one of these ops is therefore not run on an input with an empty axis; the
 * call fails with one clear error instead. State inputs are exempt: a fresh attention state is legitimately empty
 * along its time axis (and is what every stream starts with).
 */
final class EmptyInputGuard {
  /** Ops known or feared to crash on empty axes (the standard Attention shares the kernel in ORT 1.23). */
  static final List<String> CRASHING = List.of("com.microsoft:MultiHeadAttention", "com.microsoft:Attention",
      "com.microsoft:GroupQueryAttention", ":Attention");

  /** RETURNN's {@code "initial_state": "placeholder"} inputs: states even in a model converted without --state. */
  static final String RETURNN_STATE = "initial_state_placeholder_";

  private final String op;

  private EmptyInputGuard(String op) {
    this.op = op;
  }

  static EmptyInputGuard of(Set<String> ops) {
    for (String c : CRASHING) if (ops.contains(c)) return new EmptyInputGuard(c);
    return new EmptyInputGuard(null);
  }

  void check(Map<String, Tensor> feeds, Collection<String> exempt, String source) {
    if (op == null) return;
    for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
      if (exempt.contains(e.getKey()) || e.getKey().contains(RETURNN_STATE)) continue;
      for (long d : e.getValue().shape()) {
        if (d == 0) {
          throw new IllegalArgumentException(source + ": input '" + e.getKey() + "' has an empty axis "
              + Arrays.toString(e.getValue().shape()) + "; the model's " + op.replaceFirst("^:", "")
              + " crashes ONNX Runtime on empty input, so it is not run (give at least one frame and one sequence)");
        }
      }
    }
  }
}
