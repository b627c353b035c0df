package returnn.onnx.rewrite.controlflow;

import returnn.onnx.ConversionException;
import returnn.onnx.ir.Node;

/** Errors of the control-flow rules: they name the loop frame (or conditional) and the node that blocks it. */
final class ConversionErrors {
  private ConversionErrors() {}

  static ConversionException at(Node n, String message) {
    return ConversionException.atNode(n.tfName() != null ? n.tfName() : n.name(), n.op(), message);
  }

  /** "while loop frame 'lstm0/rec/rnn/while/while_context' cannot become an ONNX Loop: node 'x' (Op) message". */
  static ConversionException inLoop(String frame, Node n, String message) {
    String node = n == null ? "" : "node '" + (n.tfName() != null ? n.tfName() : n.name()) + "' (" + n.op() + ") ";
    return new ConversionException("while loop frame '" + frame + "' cannot become an ONNX Loop: " + node + message);
  }

  static ConversionException inConditional(Node merge, String message) {
    return new ConversionException("conditional at '" + merge.tfName() + "' (Merge) cannot become an ONNX If: " + message);
  }
}
