package returnn.onnx.eval;

import java.util.List;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;

/** Shapes of element-wise ops: unary ops keep their input's shape, n-ary ones broadcast their inputs'. */
final class ElementwiseShapes {
  private ElementwiseShapes() {}

  static void register(ShapeRuleTable t) {
    t.put((n, x, opset) -> x, "Identity", "Neg", "Abs", "Sign", "Sqrt", "Exp", "Log", "Reciprocal", "Relu", "Elu",
        "Selu", "LeakyRelu", "Softplus", "Tanh", "Sigmoid", "Erf", "Cast", "Not", "Floor", "Ceil", "Round", "Clip",
        "CumSum", "HardSigmoid", "Gelu", "IsNaN", "IsInf", "CastLike", "Sin", "Cos", "Softsign", "Mish", "Swish",
        "RandomUniformLike", "RandomNormalLike", "Bernoulli");
    t.put(ElementwiseShapes::broadcast, "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "LessOrEqual",
        "Greater", "GreaterOrEqual", "And", "Or", "Xor", "PRelu", "Max", "Min", "Sum", "Mean", "Where", "BitShift");
  }

  private static Shape broadcast(returnn.onnx.ir.Node n, Shape x, int opset) {
    List<Value> in = n.inputs();
    Shape s = x;
    for (int i = 1; i < in.size(); i++) s = Shapes.broadcast(s, in.get(i).shape());
    return s;
  }
}
