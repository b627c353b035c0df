package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

class MathArithmeticParityTest {
  private static final List<String> BINARY = List.of("Add", "AddV2", "Sub", "Mul", "Div", "TruncateDiv", "FloorDiv",
      "FloorMod", "TruncateMod", "Mod", "Maximum", "Minimum", "SquaredDifference");

  private static List<String> binaries(GraphDefBuilder b, List<String> ops, String x, String y, DType t) {
    List<String> outs = new ArrayList<>();
    for (String op : ops) outs.add(b.op(op, op.toLowerCase(), x, y).attr("T", t).name());
    return outs;
  }

  @Test
  void floatBinaryOpsBroadcastOverDynamicDims() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3);
    b.placeholder("y", DType.FLOAT, 3);
    List<String> ops = new ArrayList<>(List.of("Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "FloorDiv", "FloorMod",
        "TruncateMod", "Mod", "Maximum", "Minimum", "SquaredDifference", "DivNoNan"));
    List<String> outs = binaries(b, ops, "x", "y", DType.FLOAT);
    b.op("Abs", "ax", "x").attr("T", DType.FLOAT);
    outs.add(b.op("Pow", "pow", "ax", "y").attr("T", DType.FLOAT).name());
    outs.add(b.op("AddN", "addn", "x", "x", "ax").attr("T", DType.FLOAT).attr("N", 3L).name());
    outs.add(b.op("AddN", "addn1", "x").attr("T", DType.FLOAT).attr("N", 1L).name());
    Map<String, Tensor> feeds = Map.of("x", OpParity.uniform(1, -6, 6, 4, 3),
        "y", Tensor.ofFloats(new long[] {3}, -1.7f, 0.6f, 2.5f));
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
  }

  /** Negative operands of every sign combination, exact multiples, and zero dividends expose floor vs. trunc. */
  @Test
  void floatFloorDivAndFloorModFollowTheDivisorSign() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 8);
    b.placeholder("y", DType.FLOAT, 8);
    List<String> outs = binaries(b, List.of("FloorDiv", "FloorMod", "TruncateMod", "DivNoNan"), "x", "y", DType.FLOAT);
    Map<String, Tensor> feeds = Map.of(
        "x", Tensor.ofFloats(new long[] {8}, -7f, 7f, -7f, 7f, -6f, 0f, -0.5f, 3f),
        "y", Tensor.ofFloats(new long[] {8}, 2f, -2f, -2f, 2f, 3f, -3f, 2f, 0f));
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
  }

  @Test
  void maximumAndMinimumPropagateNan() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 4);
    b.placeholder("y", DType.FLOAT, 4);
    List<String> outs = binaries(b, List.of("Maximum", "Minimum"), "x", "y", DType.FLOAT);
    float nan = Float.NaN;
    Map<String, Tensor> feeds = Map.of("x", Tensor.ofFloats(new long[] {4}, nan, 1f, nan, Float.NEGATIVE_INFINITY),
        "y", Tensor.ofFloats(new long[] {4}, 1f, nan, nan, 2f));
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
  }

  /** RETURNN's length arithmetic on int32/int64: floor semantics for negative values, exact results. */
  private static void integerOps(DType t, int opset) {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", t, -1);
    b.placeholder("y", t, -1);
    List<String> outs = binaries(b, BINARY, "x", "y", t);
    outs.add(b.op("AddN", "addn", "x", "y", "x").attr("T", t).attr("N", 3L).name());
    b.op("Abs", "ay", "y").attr("T", t);
    outs.add(b.op("Pow", "pow", "x", "ay").attr("T", t).name());
    // Ceil division -(-x // k) with a constant k, as RETURNN computes pooled/strided lengths.
    b.constant("k", t == DType.INT32 ? Tensor.ofInts(new long[0], 3) : Tensor.ofLongs(new long[0], 3));
    b.op("Neg", "negx", "x").attr("T", t);
    b.op("FloorDiv", "fd", "negx", "k").attr("T", t);
    outs.add(b.op("Neg", "ceildiv", "fd").attr("T", t).name());
    int[] xs = {-7, 7, -7, 7, -6, 0, -1, 5, 13, -13, 2, -9};
    int[] ys = {2, -2, -2, 2, 3, -3, 4, 1, 5, -4, -3, 1};
    long[] shape = {xs.length};
    Map<String, Tensor> feeds = t == DType.INT32
        ? Map.of("x", Tensor.ofInts(shape, xs), "y", Tensor.ofInts(shape, ys))
        : Map.of("x", Tensor.ofLongs(shape, toLongs(xs)), "y", Tensor.ofLongs(shape, toLongs(ys)));
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, opset);
  }

  private static long[] toLongs(int[] v) {
    long[] r = new long[v.length];
    for (int i = 0; i < v.length; i++) r[i] = v[i];
    return r;
  }

  @Test
  void int32AtOpsets13And17And23() {
    integerOps(DType.INT32, 13);
    integerOps(DType.INT32, 17);
    integerOps(DType.INT32, 23);
  }

  @Test
  void int64() {
    integerOps(DType.INT64, 17);
  }

  /** FloorDiv on a constant and a placeholder, and fully constant: the folded value must match too. */
  @Test
  void floorDivOfConstantsFolds() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.constant("a", Tensor.ofInts(new long[] {4}, -7, 7, -1, 0));
    b.constant("c", Tensor.ofInts(new long[] {4}, 2, -2, 3, -5));
    b.op("FloorDiv", "fd", "a", "c").attr("T", DType.INT32);
    b.op("FloorMod", "fm", "a", "c").attr("T", DType.INT32);
    OpParity.Result r = OpParity.check(b.build(), Map.of(), List.of("fd", "fm"), OpParity.TOL, 17);
    assertEquals(0, r.count("Div"), "constant FloorDiv folds");
  }

  /** int8/int16 arithmetic has no ONNX Runtime kernels at opset 13: computed in int32, wrapped back. */
  @Test
  void smallIntegersAtOpset13() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.INT32, 6);
    b.placeholder("y", DType.INT32, 6);
    List<String> outs = new ArrayList<>();
    for (DType t : List.of(DType.INT8, DType.INT16)) {
      String n = t.lower();
      b.op("Cast", n + "x", "x").attr("SrcT", DType.INT32).attr("DstT", t);
      b.op("Cast", n + "y", "y").attr("SrcT", DType.INT32).attr("DstT", t);
      for (String op : List.of("AddV2", "Mul", "Maximum", "FloorDiv", "Neg")) {
        String o = op.equals("Neg") ? b.op(op, n + op, n + "x").attr("T", t).name()
            : b.op(op, n + op, n + "x", n + "y").attr("T", t).name();
        outs.add(b.op("Cast", n + op + "_i", o).attr("SrcT", t).attr("DstT", DType.INT32).name());
      }
    }
    Map<String, Tensor> feeds = Map.of("x", Tensor.ofInts(new long[] {6}, 100, -100, 7, -7, 127, -128),
        "y", Tensor.ofInts(new long[] {6}, 100, 3, -2, 2, 1, -1));
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 13);
  }
}
