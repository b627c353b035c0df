package returnn.onnx.eval;

import java.util.List;
import java.util.Set;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;

/**
 * Element type and shape of ONNX node outputs. Types are always set (handlers rely on input dtypes); shapes are
 * computed where they follow statically, with symbolic dims carried through, and left unknown otherwise. The shape
 * rules live with their op family ({@link ElementwiseShapes}, {@link DataMovementShapes}, ...) and are looked up by op
 * type in {@link ShapeRuleTable}.
 */
public final class TypeInference {
  private static final Set<String> BOOL_OUT = Set.of("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
      "And", "Or", "Xor", "Not", "IsNaN", "IsInf");
  private static final Set<String> INT64_OUT = Set.of("Shape", "Size", "ArgMax", "ArgMin", "NonZero");

  private TypeInference() {}

  /** A shape that depends on values known only at run time: no shape, and no error. */
  static final class UnknownShape extends RuntimeException {
    UnknownShape(String message) {
      super(message, null, false, false);
    }
  }

  public static void infer(Node n, int opset) {
    List<Value> in = n.inputs();
    DType d0 = in.isEmpty() || in.get(0) == null ? null : in.get(0).dtype();
    String op = n.op();
    for (int i = 0; i < n.outputs().size(); i++) {
      Value out = n.output(i);
      if (out.dtype() == null) out.setDtype(dtype(n, i, d0));
    }
    try {
      ShapeRule rule = ShapeRuleTable.ALL.first(op);
      Shape s = rule == null ? null : rule.shape(n, in.isEmpty() || in.get(0) == null ? Shape.UNKNOWN : in.get(0).shape(), opset);
      if (s != null && !n.outputs().isEmpty() && !n.output(0).shape().hasRank()) n.output(0).setShape(s);
    } catch (UnknownShape | IllegalArgumentException e) {
      // Not knowable before run time (axes computed at run time), or shapes the graph gets wrong: the runtime reports
      // those with the real inputs.
    } catch (RuntimeException e) {
      // Shapes are an aid, not a requirement; a rule that needs one checks for it. But an exception here is a bug:
      // recorded (and thrown in the tests).
      returnn.onnx.InternalErrors.record("shape inference of " + n.op() + " '" + n.name() + "'", e);
    }
    ShapeRule.Outputs outputs = ShapeRuleTable.ALL.outputs(op);
    if (outputs != null) outputs.setShapes(n, opset);
  }

  /**
   * Before a Loop body is legalized: loop-carried body inputs the rule could not type take the dtype of the Loop's
   * initial value and its rank with every dim unknown (a carried value may change size between iterations).
   */
  public static void bindLoopBody(Node loop) {
    ControlFlowShapes.bindLoopBody(loop);
  }

  private static DType dtype(Node n, int i, DType d0) {
    String op = n.op();
    if (op.equals("Dropout") && i == 1) return DType.BOOL; // the mask
    if (BOOL_OUT.contains(op)) return DType.BOOL;
    if (INT64_OUT.contains(op)) return DType.INT64;
    switch (op) {
      case "Cast":
        return DType.fromOnnx((int) n.intAttr("to", 1));
      case "CastLike":
        return n.input(1).dtype();
      case "Constant":
        return ((Attr.TensorVal) n.attr("value")).value().dtype();
      case "ConstantOfShape":
        return n.attr("value") instanceof Attr.TensorVal t ? t.value().dtype() : DType.FLOAT;
      case "Where":
        return n.input(1).dtype();
      case "TopK":
        return i == 0 ? d0 : DType.INT64;
      case "OneHot":
        return n.input(2).dtype();
      case "DynamicQuantizeLinear":
        return i == 1 ? DType.FLOAT : DType.UINT8;
      case "MatMulInteger":
      case "ConvInteger":
        return DType.INT32;
      case "DequantizeLinear":
        return DType.FLOAT;
      case "QuantizeLinear":
        return n.input(2) != null ? n.input(2).dtype() : DType.UINT8;
      case "DynamicQuantizeMatMul":
      case "DynamicQuantizeLSTM":
      case "MatMulIntegerToFloat":
        return DType.FLOAT;
      case "MultiHeadAttention":
      case "Attention":
        return n.input(0).dtype();
      case "Loop": {
        Graph body = ((Attr.GraphVal) n.attr("body")).value();
        return body.outputs().get(i + 1).dtype();
      }
      case "If": {
        Graph then = ((Attr.GraphVal) n.attr("then_branch")).value();
        return then.outputs().get(i).dtype();
      }
      case "Scan": {
        Graph body = ((Attr.GraphVal) n.attr("body")).value();
        return body.outputs().get(i).dtype();
      }
      default:
        return d0;
    }
  }
}
