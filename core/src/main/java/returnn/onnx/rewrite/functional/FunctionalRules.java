package returnn.onnx.rewrite.functional;

import java.util.List;
import returnn.onnx.rewrite.Rule;

/**
 * Control flow v2 and {@code tf.function} calls to ONNX: the importer gave every {@code While}/{@code StatelessWhile},
 * {@code If}/{@code StatelessIf} and {@code PartitionedCall}/{@code StatefulPartitionedCall} its functions as
 * subgraphs ({@code returnn.onnx.tf.FunctionLibrary}); this rule inlines calls and makes Loops and Ifs of the rest,
 * with their bodies still "tf" nodes for the Legalizer. Run first among the TF-level rules, so the others see the
 * Loops and Ifs TF 1 control flow would also give.
 */
public final class FunctionalRules {
  private FunctionalRules() {}

  public static final Rule CONTROL_FLOW = new FunctionalControlFlowRule();

  public static List<Rule> tfLevel() {
    return List.of(CONTROL_FLOW);
  }
}
