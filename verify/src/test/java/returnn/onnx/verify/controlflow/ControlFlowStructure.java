package returnn.onnx.verify.controlflow;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;

/**
 * Structural checks of converted control flow, the rules ONNX states for Loop and If: a Loop body takes
 * {@code (iteration int64, cond bool, carried...)} and returns {@code (cond bool, carried..., scans...)} with the
 * carried types matching the Loop's inputs; If branches take nothing and agree on output count and types; every body
 * output is produced inside its body, no value is two outputs of one graph, and no TF op is left. Then the official ONNX
 * checker where Debian's python3-onnx is installed (ONNX Runtime loading the model is the test's own check).
 */
final class ControlFlowStructure {
  private ControlFlowStructure() {}

  /** Problems found, empty if none. */
  static List<String> problems(Graph g) {
    List<String> p = new ArrayList<>();
    for (Node n : g.allNodes()) {
      if (n.domain().equals(Node.TF)) p.add("TF op left: " + n);
      if (n.isOnnx("Loop")) loop(n, p);
      if (n.isOnnx("If")) branches(n, p);
      for (Attr a : n.attrs().values()) if (a instanceof Attr.GraphVal sub) outputs(sub.value(), p);
    }
    return p;
  }

  private static void loop(Node n, List<String> p) {
    Graph body = ((Attr.GraphVal) n.attr("body")).value();
    int carried = n.inputs().size() - 2;
    List<Value> in = body.inputs();
    List<Value> out = body.outputs();
    if (in.size() != carried + 2) p.add(n + ": body has " + in.size() + " inputs for " + carried + " carried values");
    if (out.size() != n.outputs().size() + 1) p.add(n + ": body has " + out.size() + " outputs for " + n.outputs().size());
    if (in.size() < 2 || in.get(0).dtype() != DType.INT64 || in.get(1).dtype() != DType.BOOL) {
      p.add(n + ": body inputs must start with (int64 iteration, bool cond)");
    }
    if (out.isEmpty() || out.get(0).dtype() != DType.BOOL) p.add(n + ": body output 0 must be the bool condition");
    if (n.input(0) != null && n.input(0).dtype() != DType.INT64) p.add(n + ": trip count is not int64");
    if (n.input(1) != null && n.input(1).dtype() != DType.BOOL) p.add(n + ": cond is not bool");
    for (int i = 0; i < carried && i + 2 < in.size() && i + 1 < out.size(); i++) {
      DType init = n.input(i + 2).dtype();
      if (init != in.get(i + 2).dtype() || init != out.get(i + 1).dtype() || init != n.output(i).dtype()) {
        p.add(n + ": carried value " + i + " changes type (" + init + ", body " + in.get(i + 2).dtype() + " → "
            + out.get(i + 1).dtype() + ")");
      }
    }
  }

  private static void branches(Node n, List<String> p) {
    Graph t = ((Attr.GraphVal) n.attr("then_branch")).value();
    Graph e = ((Attr.GraphVal) n.attr("else_branch")).value();
    if (!t.inputs().isEmpty() || !e.inputs().isEmpty()) p.add(n + ": If branches must have no inputs");
    if (t.outputs().size() != e.outputs().size() || t.outputs().size() != n.outputs().size()) {
      p.add(n + ": branches return " + t.outputs().size() + " and " + e.outputs().size() + " values");
      return;
    }
    for (int i = 0; i < t.outputs().size(); i++) {
      if (t.outputs().get(i).dtype() != e.outputs().get(i).dtype()) p.add(n + ": branch output " + i + " types differ");
    }
  }

  private static void outputs(Graph sub, List<String> p) {
    Set<Value> seen = new HashSet<>();
    for (Value v : sub.outputs()) {
      if (!seen.add(v)) p.add(sub.name() + ": " + v.name() + " is two outputs");
      if (v.producer() == null || v.producer().graph() != sub) {
        p.add(sub.name() + ": output " + v.name() + " is not computed in the body");
      }
    }
  }

  /** The official checker's complaint, or null (also when python3-onnx is not installed). */
}
