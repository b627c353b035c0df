package returnn.onnx.rewrite.lstm;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;

/**
 * Removes the nodes a fusion left without consumers (the replaced kernel, its projection, mask and gathers), walking
 * upwards from them. Local on purpose: the TF-level graph holds nothing else that is dead, and tf nodes left dead would
 * still be legalized (and might not even be convertible).
 */
final class DeadNodes {
  private DeadNodes() {}

  static void removeFrom(Graph g, List<Node> roots) {
    Deque<Node> todo = new ArrayDeque<>(roots);
    while (!todo.isEmpty()) {
      Node n = todo.poll();
      if (n.graph() != g || isUsed(n)) continue;
      List<Value> inputs = new java.util.ArrayList<>(n.inputs());
      g.removeNode(n);
      for (Value v : inputs) if (v != null && v.producer() != null) todo.add(v.producer());
    }
  }

  private static boolean isUsed(Node n) {
    for (Value o : n.outputs()) if (o.useCount() > 0) return true;
    return false;
  }
}
