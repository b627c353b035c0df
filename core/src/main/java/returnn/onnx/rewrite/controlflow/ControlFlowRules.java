package returnn.onnx.rewrite.controlflow;

import java.util.List;
import returnn.onnx.rewrite.Rule;

/**
 * TF1 control flow to ONNX: while loops with their TensorArrays to {@code Loop}, then {@code Switch}/{@code Merge}
 * conditionals to {@code If}. TF-level rules, needed with and without fusion (nothing else converts these ops); the
 * ONNX-level one only trims Identities the rules added to bodies.
 */
public final class ControlFlowRules {
  private ControlFlowRules() {}

  public static final Rule WHILE_LOOPS = new WhileLoopRule();
  public static final Rule CONDITIONALS = new ConditionalRule();
  public static final Rule SUBGRAPH_OUTPUT_IDENTITIES = new SubgraphOutputIdentities();

  /** TF-level, in this order: loops first, so the Merges left are conditionals. */
  public static List<Rule> tfLevel() {
    return List.of(WHILE_LOOPS, CONDITIONALS);
  }

  public static List<Rule> onnxLevel() {
    return List.of(SUBGRAPH_OUTPUT_IDENTITIES);
  }
}
