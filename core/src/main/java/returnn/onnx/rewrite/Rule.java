package returnn.onnx.rewrite;

import returnn.onnx.ir.Graph;

/**
 * A graph rewrite: finds its pattern, checks it (recording a reason when it declines), and rewrites. Returns how
 * often it fired.
 */
public interface Rule {
  String name();

  int apply(Graph graph, RuleContext ctx);
}
