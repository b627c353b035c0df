package returnn.onnx.rewrite.state;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import returnn.onnx.ConversionException;
import returnn.onnx.tf.TensorRef;

/**
 * Before import: every RETURNN state placeholder the requested outputs read ({@code <scope>/initial_state_placeholder_<key>})
 * brings its final state {@code <scope>/last_state_<key>} into the outputs, so a state read is always a state given
 * back. Repeats until nothing is added (a final state may read further placeholders).
 */
public final class StateOutputs {
  private StateOutputs() {}

  /**
   * {@code outputs} plus the missing final states, in the order their placeholders appear in the graph.
   *
   * @param aliases SavedModel signature keys → TF tensor names (empty for plain graphs)
   */
  public static List<String> withLastStates(GraphDef graph, List<String> outputs, Map<String, String> aliases) {
    Map<String, NodeDef> nodes = new HashMap<>();
    for (NodeDef n : graph.getNodeList()) nodes.put(n.getName(), n);
    List<String> result = new ArrayList<>(outputs);
    Set<String> fetched = new HashSet<>();
    for (String o : outputs) fetched.add(TensorRef.parse(aliases.getOrDefault(o, o)).node());
    while (true) {
      Set<String> reached = reachable(nodes, fetched);
      List<String> added = new ArrayList<>();
      for (NodeDef n : graph.getNodeList()) {
        if (!n.getOp().equals("Placeholder") || !reached.contains(n.getName())) continue;
        String last = StateNames.outputFor(n.getName());
        if (last == null || fetched.contains(last)) continue;
        if (!nodes.containsKey(last)) {
          throw ConversionException.atNode(n.getName(), n.getOp(), "state placeholder without its final state '" + last
              + "' in the graph; name the final state with --outputs or convert without --state");
        }
        added.add(last);
      }
      if (added.isEmpty()) return result;
      result.addAll(added);
      fetched.addAll(added);
    }
  }

  private static Set<String> reachable(Map<String, NodeDef> nodes, Set<String> from) {
    Set<String> seen = new LinkedHashSet<>();
    Deque<String> todo = new ArrayDeque<>(from);
    while (!todo.isEmpty()) {
      String name = todo.poll();
      NodeDef n = nodes.get(name);
      if (n == null || !seen.add(name)) continue;
      for (String in : n.getInputList()) todo.add(TensorRef.parse(in).node());
    }
    return seen;
  }
}
