package returnn.onnx.convert;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import returnn.onnx.convert.handlers.ArrayHandlers;
import returnn.onnx.convert.handlers.GraphHandlers;
import returnn.onnx.convert.handlers.MathHandlers;
import returnn.onnx.convert.handlers.NnHandlers;
import returnn.onnx.convert.handlers.ReturnnHandlers;

/**
 * TF op type → handler, versioned by opset: the newest handler whose {@code sinceOpset} is not above the target
 * opset wins (tf2onnx's scheme). Families register explicitly, one class each; no reflection.
 */
public final class HandlerRegistry {
  private record Versioned(int sinceOpset, OpHandler handler) {}

  private final Map<String, List<Versioned>> handlers = new HashMap<>();

  public static HandlerRegistry standard() {
    HandlerRegistry r = new HandlerRegistry();
    GraphHandlers.register(r);
    MathHandlers.register(r);
    ArrayHandlers.register(r);
    NnHandlers.register(r);
    ReturnnHandlers.register(r);
    returnn.onnx.convert.handlers.TensorListHandlers.register(r);
    return r;
  }

  public HandlerRegistry register(String tfOp, OpHandler h) {
    return register(tfOp, 1, h);
  }

  public HandlerRegistry register(String tfOp, int sinceOpset, OpHandler h) {
    List<Versioned> l = handlers.computeIfAbsent(tfOp, k -> new ArrayList<>());
    l.removeIf(v -> v.sinceOpset == sinceOpset);
    l.add(new Versioned(sinceOpset, h));
    l.sort(Comparator.comparingInt(Versioned::sinceOpset).reversed());
    return this;
  }

  /**
   * Registers {@code h} for {@code tfOp} at every opset, replacing any handler registered for it (a user's handler
   * for a custom op, or in place of a built-in one).
   */
  public HandlerRegistry override(String tfOp, OpHandler h) {
    handlers.remove(tfOp);
    return register(tfOp, 1, h);
  }

  /** The handler for {@code tfOp} at {@code opset}, or null. */
  public OpHandler find(String tfOp, int opset) {
    for (Versioned v : handlers.getOrDefault(tfOp, List.of())) if (v.sinceOpset <= opset) return v.handler;
    return null;
  }

  public Set<String> supportedOps() {
    return new TreeSet<>(handlers.keySet());
  }
}
