package returnn.onnx.eval;

import java.util.HashMap;
import java.util.Map;

/**
 * Shape rules by op type (the op name, whatever the domain: com.microsoft ops have names of their own). Each op family
 * registers its rules here: {@link ElementwiseShapes}, {@link ReduceShapes}, {@link DataMovementShapes},
 * {@link NnShapes}, {@link MicrosoftShapes}, {@link ControlFlowShapes}. An op has at most one rule of each kind.
 */
final class ShapeRuleTable {
  static final ShapeRuleTable ALL = new ShapeRuleTable();

  static {
    ElementwiseShapes.register(ALL);
    ReduceShapes.register(ALL);
    DataMovementShapes.register(ALL);
    NnShapes.register(ALL);
    MicrosoftShapes.register(ALL);
    ControlFlowShapes.register(ALL);
  }

  private final Map<String, ShapeRule> first = new HashMap<>();
  private final Map<String, ShapeRule.Outputs> outputs = new HashMap<>();

  /** Registers {@code rule} as the first-output shape of each of {@code ops}. */
  void put(ShapeRule rule, String... ops) {
    for (String op : ops) {
      if (first.putIfAbsent(op, rule) != null) throw new IllegalStateException("two shape rules for " + op);
    }
  }

  /** Registers {@code rule} as setting all output shapes of each of {@code ops}. */
  void putOutputs(ShapeRule.Outputs rule, String... ops) {
    for (String op : ops) {
      if (outputs.putIfAbsent(op, rule) != null) throw new IllegalStateException("two output shape rules for " + op);
    }
  }

  ShapeRule first(String op) {
    return first.get(op);
  }

  ShapeRule.Outputs outputs(String op) {
    return outputs.get(op);
  }
}
