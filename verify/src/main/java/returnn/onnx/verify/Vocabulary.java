package returnn.onnx.verify;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Set;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * The valid range of a sparse label input: the row count of the embedding it indexes (a Gather on a variable),
 * found by following the placeholder's consumers through casts and identities.
 */
final class Vocabulary {
  private Vocabulary() {}

  static long boundFor(GraphDef g, String placeholder) {
    Deque<String> todo = new ArrayDeque<>(Set.of(placeholder));
    Set<String> seen = new HashSet<>();
    while (!todo.isEmpty()) {
      String cur = todo.poll();
      if (!seen.add(cur)) continue;
      for (NodeDef n : g.getNodeList()) {
        if (n.getInputCount() < 2) continue;
        boolean usesCur = n.getInputList().stream().anyMatch(i -> i.equals(cur) || i.startsWith(cur + ":"));
        if (!usesCur) continue;
        switch (n.getOp()) {
          case "Identity", "Cast", "Reshape" -> todo.add(n.getName());
          case "GatherV2", "Gather", "ResourceGather" -> {
            long rows = rows(g, n.getInput(0));
            if (rows > 0) return rows;
          }
          default -> {}
        }
      }
    }
    return -1;
  }

  private static long rows(GraphDef g, String input) {
    String name = input.startsWith("^") ? input.substring(1) : input.split(":")[0];
    for (NodeDef n : g.getNodeList()) {
      if (!n.getName().equals(name)) continue;
      if (n.getOp().equals("Identity") || n.getOp().equals("ReadVariableOp")) return rows(g, n.getInput(0));
      if (n.containsAttr("shape") && n.getAttrOrThrow("shape").getShape().getDimCount() > 0) {
        return n.getAttrOrThrow("shape").getShape().getDim(0).getSize();
      }
    }
    return -1;
  }
}
