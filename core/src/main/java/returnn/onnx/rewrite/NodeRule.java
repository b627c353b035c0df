package returnn.onnx.rewrite;

import java.util.ArrayList;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;

/**
 * A rule that looks at one node at a time: every node alive when a pass starts (of the graph itself, or with
 * {@code subgraphs} also of Loop/If bodies), skipping those an earlier rewrite of the pass removed, and counts the
 * rewrites.
 */
public abstract class NodeRule implements Rule {
  private final String name;
  private final boolean subgraphs;

  protected NodeRule(String name, boolean subgraphs) {
    this.name = name;
    this.subgraphs = subgraphs;
  }

  @Override
  public final String name() {
    return name;
  }

  @Override
  public final int apply(Graph root, RuleContext ctx) {
    int fired = 0;
    for (Node n : new ArrayList<>(subgraphs ? root.allNodes() : root.nodes())) {
      if (n.graph() == null || !subgraphs && n.graph() != root) continue;
      if (visit(root, n, ctx)) fired++;
    }
    return fired;
  }

  /** Rewrites at {@code n} if it is a candidate that passes the checks (else declines with a reason); true if it did. */
  protected abstract boolean visit(Graph root, Node n, RuleContext ctx);
}
