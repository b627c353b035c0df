package returnn.onnx.eval;

import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;

/**
 * The static shape of a node's first output, from the shape {@code x} of its first input (UNKNOWN when it has none)
 * and whatever else of the node it needs; null when the shape does not follow statically. A rule may throw
 * {@link TypeInference.UnknownShape} (or IllegalArgumentException for shapes the graph gets wrong) to say the same.
 * Rules are grouped by op family and registered by op type in {@link ShapeRuleTable}.
 */
@FunctionalInterface
interface ShapeRule {
  Shape shape(Node n, Shape x, int opset);

  /** For ops with several outputs (Split, TopK) or subgraphs (Loop, If): sets the outputs' shapes itself. */
  @FunctionalInterface
  interface Outputs {
    void setShapes(Node n, int opset);
  }
}
