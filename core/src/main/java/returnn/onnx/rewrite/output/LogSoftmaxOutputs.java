package returnn.onnx.rewrite.output;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import returnn.onnx.ConversionException;
import returnn.onnx.ConversionReport;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;

/**
 * {@code convert --log-softmax-output}: the Softmax that computes a network output (directly or through layout ops such
 * as RETURNN's Transpose to batch-major) becomes LogSoftmax over the same axis, for callers that want log-probabilities
 * from the model itself (RASR's feature scorer negates the output; without this it needs {@code apply-log-on-output}).
 * A Softmax that anything else reads stays, since that other reader wants probabilities.
 */
public final class LogSoftmaxOutputs {
  /** Ops that move or reshape values without changing them. */
  private static final Set<String> LAYOUT = Set.of("Transpose", "Reshape", "Identity", "Squeeze", "Unsqueeze", "Flatten");

  private LogSoftmaxOutputs() {}

  /** What computes an output: its Softmax, LogSoftmax, or null, looking back through layout ops. */
  public static Node finalNormalization(Value output) {
    Value v = output;
    while (v != null && v.producer() != null) {
      Node p = v.producer();
      if (p.isOnnx("Softmax") || p.isOnnx("LogSoftmax")) return p;
      if (!p.isOnnx(p.op()) || !LAYOUT.contains(p.op())) return null;
      v = p.input(0);
    }
    return null;
  }

  /** Rewrites every network output's final Softmax; fails if none of them has one. */
  public static void apply(Graph g, List<Value> networkOutputs, ConversionReport report) {
    List<String> done = new ArrayList<>();
    for (Value out : networkOutputs) {
      Node sm = finalNormalization(out);
      if (sm == null || !sm.isOnnx("Softmax")) continue;
      if (!onlyReaches(sm.output(0), out)) {
        report.fusions.add("log-softmax output: the Softmax of " + out.name() + " is read elsewhere too; kept");
        continue;
      }
      Node log = g.addNode(Node.ONNX, "LogSoftmax", sm.name() + "/log", sm.tfName(), new ArrayList<>(sm.inputs()), 1);
      sm.attrs().forEach(log::set);
      Value old = sm.output(0);
      Value neu = log.output(0);
      neu.setDtype(old.dtype());
      neu.setShape(old.shape());
      String name = old.name();
      g.replaceAllUses(old, neu);
      g.removeNode(sm);
      neu.setName(name);
      done.add(out.name());
    }
    if (done.isEmpty()) {
      throw new ConversionException("--log-softmax-output: no output is computed by a Softmax (outputs: "
          + String.join(", ", networkOutputs.stream().map(Value::name).toList()) + ")");
    }
    for (String o : done) report.fusions.add("log-softmax output: " + o + " (Softmax → LogSoftmax)");
  }

  /** True if {@code v} is used only on the layout path to {@code out}. */
  private static boolean onlyReaches(Value v, Value out) {
    while (v != out) {
      if (v.uses().size() != 1 || v.isGraphOutput()) return false;
      v = v.uses().get(0).node().output(0);
    }
    return true;
  }
}
