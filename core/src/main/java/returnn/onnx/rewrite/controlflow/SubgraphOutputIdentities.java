package returnn.onnx.rewrite.controlflow;

import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.Rule;
import returnn.onnx.rewrite.RuleContext;

/**
 * After legalization: drops the Identity the control-flow rules put before each Loop/If body output where the value
 * behind it is computed in that body and is no other output, so ONNX Runtime copies nothing per iteration. Identities
 * stay where the output would otherwise be an outer value, a body input or a duplicate output.
 */
final class SubgraphOutputIdentities implements Rule {
  @Override
  public String name() {
    return "ControlFlowRules.SUBGRAPH_OUTPUT_IDENTITIES";
  }

  @Override
  public int apply(Graph g, RuleContext ctx) {
    int removed = 0;
    for (Node n : g.allNodes()) {
      for (Attr a : n.attrs().values()) if (a instanceof Attr.GraphVal sub) removed += trim(sub.value());
    }
    return removed;
  }

  private static int trim(Graph body) {
    int removed = 0;
    for (int i = 0; i < body.outputs().size(); i++) {
      Node id = body.outputs().get(i).producer();
      if (id == null || id.graph() != body || !id.isOnnx("Identity")) continue;
      Value in = id.input(0);
      Node p = in.producer();
      if (p == null || p.graph() != body || in.isGraphOutput() || in.dtype() != id.output(0).dtype()) continue;
      body.setOutput(i, in);
      body.removeNode(id);
      removed++;
    }
    return removed;
  }
}
