package returnn.onnx.convert;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import returnn.onnx.convert.handlers.ArrayHandlers;
import returnn.onnx.convert.handlers.GraphHandlers;
import returnn.onnx.convert.handlers.MathHandlers;
import returnn.onnx.convert.handlers.NnHandlers;
import returnn.onnx.convert.handlers.ReturnnHandlers;

/**
 * TF op type → handler, one handler an op for every opset. Families register explicitly, one class each; no
 * reflection.
 *
 * <p>Not versioned by opset (tf2onnx's scheme of a handler per {@code sinceOpset}), on purpose: where the target
 * opset matters here, it changes how one ONNX node is spelled, not how a TF op is converted: reduce and squeeze axes
 * as an attribute or an input, Split's {@code num_outputs} (18), Reshape's {@code allowzero} (14), ScatterND's
 * {@code reduction} (16), random draws through Dropout (22). A handler variant per opset would copy a whole handler to
 * change one attribute, so the spelling is decided where the node is built ({@link returnn.onnx.build.OnnxBuilder}
 * for the common ops: {@code reduce}, {@code splitEqual}) or by one check in the handler, which also gives a clear
 * error where an opset is too old for an op.
 */
public final class HandlerRegistry {
  private final Map<String, OpHandler> handlers = new HashMap<>();

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

  /** Registers {@code h} for {@code tfOp}, replacing the handler registered for it before, if any. */
  public HandlerRegistry register(String tfOp, OpHandler h) {
    handlers.put(tfOp, h);
    return this;
  }

  /**
   * Registers {@code h} for {@code tfOp}, replacing any handler registered for it (a user's handler for a custom op,
   * or in place of a built-in one).
   */
  public HandlerRegistry override(String tfOp, OpHandler h) {
    return register(tfOp, h);
  }

  /** The handler for {@code tfOp}, or null. */
  public OpHandler find(String tfOp) {
    return handlers.get(tfOp);
  }

  public Set<String> supportedOps() {
    return new TreeSet<>(handlers.keySet());
  }
}
