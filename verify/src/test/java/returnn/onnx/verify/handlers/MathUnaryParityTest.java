package returnn.onnx.verify.handlers;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

class MathUnaryParityTest {
  private static final List<String> FLOAT_UNARY = List.of("Neg", "Abs", "Sign", "Sqrt", "Exp", "Log", "Log1p", "Expm1",
      "Tanh", "Sigmoid", "Erf", "Elu", "Selu", "Softplus", "Softsign", "Floor", "Ceil", "Round", "Relu", "Relu6",
      "Square", "Reciprocal", "Inv", "Rsqrt", "Sin", "Cos");

  private static List<String> unaries(GraphDefBuilder b, List<String> ops, String x, DType t) {
    List<String> outs = new ArrayList<>();
    for (String op : ops) outs.add(b.op(op, op.toLowerCase(), x).attr("T", t).name());
    return outs;
  }

  /** Halves (round half to even), signed zeros, values around the activations' kinks, and NaN/±inf. */
  private static final float[] SPECIAL = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 0f, -0f, 6f, 6.5f, -3.2f, 1e-7f,
      Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 3.3f};

  @Test
  void floatUnaryOnSpecialValues() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 4);
    List<String> outs = unaries(b, FLOAT_UNARY, "x", DType.FLOAT);
    outs.add(b.op("LeakyRelu", "leaky", "x").attr("T", DType.FLOAT).name());
    outs.add(b.op("LeakyRelu", "leaky_half", "x").attr("T", DType.FLOAT).attr("alpha", 0.5f).name());
    OpParity.check(b.build(), Map.of("x", Tensor.ofFloats(new long[] {4, 4}, SPECIAL)), outs, 1e-4, 17);
  }

  @Test
  void floatUnaryOnRandomValuesAtOpsets13And23() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, -1);
    List<String> outs = unaries(b, FLOAT_UNARY, "x", DType.FLOAT);
    Map<String, Tensor> feeds = Map.of("x", OpParity.uniform(3, -4, 4, 2, 5));
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 13);
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 23);
  }

  /** Erf and the activations only have float32 kernels in ONNX Runtime: doubles go through float32. */
  @Test
  void doubleActivations() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 6);
    b.op("Cast", "xd", "x").attr("SrcT", DType.FLOAT).attr("DstT", DType.DOUBLE);
    List<String> outs = unaries(b, List.of("Erf", "Elu", "Selu", "Softplus", "Tanh", "Relu", "Round", "Rsqrt", "Neg"),
        "xd", DType.DOUBLE);
    OpParity.check(b.build(), Map.of("x", OpParity.uniform(5, -3, 3, 6)), outs, OpParity.TOL, 17);
  }

  /**
   * Relu/Relu6 on int32 (Relu has no int kernel at opset 13 in ONNX Runtime), and the int unary ops. Round is left
   * out: TF 2.18's CPU kernel returns zeros for integer Round, the converter keeps the documented identity.
   */
  @Test
  void integerUnary() {
    for (DType t : List.of(DType.INT32, DType.INT64)) {
      GraphDefBuilder b = new GraphDefBuilder();
      b.placeholder("x", t, -1);
      List<String> outs = unaries(b, List.of("Relu", "Relu6", "Neg", "Abs", "Sign", "Square"), "x", t);
      long[] v = {-9, -6, -1, 0, 1, 5, 6, 7, 100};
      Tensor x = Tensor.fromLongs(t, new long[] {v.length}, v);
      OpParity.check(b.build(), Map.of("x", x), outs, OpParity.TOL, 13);
      OpParity.check(b.build(), Map.of("x", x), outs, OpParity.TOL, 17);
    }
  }

  @Test
  void clipByValueWithScalarAndTensorBounds() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 4);
    b.constant("lo", Tensor.scalarFloat(-0.5f));
    b.constant("hi", Tensor.scalarFloat(1f));
    b.placeholder("lo_t", DType.FLOAT, 2, 4);
    b.placeholder("hi_t", DType.FLOAT, 2, 4);
    b.op("ClipByValue", "clip", "x", "lo", "hi").attr("T", DType.FLOAT);
    b.op("ClipByValue", "clip_t", "x", "lo_t", "hi_t").attr("T", DType.FLOAT);
    b.placeholder("n", DType.INT32, -1);
    b.constant("nlo", Tensor.ofInts(new long[0], 1));
    b.constant("nhi", Tensor.ofInts(new long[0], 4));
    b.op("ClipByValue", "clip_i", "n", "nlo", "nhi").attr("T", DType.INT32);
    Map<String, Tensor> feeds = Map.of(
        "x", Tensor.ofFloats(new long[] {2, 4}, -3f, -0.5f, 0.2f, 1f, 7f, Float.NaN, Float.NEGATIVE_INFINITY, 0.9f),
        "lo_t", OpParity.uniform(7, -1, 0, 2, 4),
        "hi_t", OpParity.uniform(8, 0, 1, 2, 4),
        "n", Tensor.ofInts(new long[] {5}, -3, 0, 2, 4, 9));
    OpParity.check(b.build(), feeds, List.of("clip", "clip_t", "clip_i"), OpParity.TOL, 17);
  }
}
