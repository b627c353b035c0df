package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

class MathLogicParityTest {
  private static final List<String> COMPARE = List.of("Equal", "NotEqual", "Less", "LessEqual", "Greater",
      "GreaterEqual");

  private static List<String> binaries(GraphDefBuilder b, List<String> ops, String x, String y, DType t, String sfx) {
    List<String> outs = new ArrayList<>();
    for (String op : ops) outs.add(b.op(op, op.toLowerCase() + sfx, x, y).attr("T", t).name());
    return outs;
  }

  @Test
  void comparisonsWithNanAndBroadcastingAndLogicalOps() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3);
    b.placeholder("y", DType.FLOAT, 3);
    b.placeholder("i", DType.INT32, -1);
    b.placeholder("j", DType.INT32, -1);
    b.placeholder("p", DType.BOOL, 2, 2);
    b.placeholder("q", DType.BOOL, 2);
    List<String> outs = binaries(b, COMPARE, "x", "y", DType.FLOAT, "");
    outs.addAll(binaries(b, COMPARE, "i", "j", DType.INT32, "_i"));
    outs.addAll(binaries(b, List.of("Equal", "NotEqual"), "p", "q", DType.BOOL, "_b"));
    outs.add(b.op("LogicalAnd", "and", "p", "q").name());
    outs.add(b.op("LogicalOr", "or", "p", "q").name());
    outs.add(b.op("LogicalNot", "not", "p").name());
    float nan = Float.NaN;
    Map<String, Tensor> feeds = Map.of(
        "x", Tensor.ofFloats(new long[] {3, 3}, 1f, nan, 2f, -1f, 0.5f, 2f, nan, Float.NEGATIVE_INFINITY, 3f),
        "y", Tensor.ofFloats(new long[] {3}, 1f, 0.5f, nan),
        "i", Tensor.ofInts(new long[] {5}, -3, 0, 2, 7, 7),
        "j", Tensor.ofInts(new long[] {5}, -3, 1, -2, 7, 8),
        "p", Tensor.ofBools(new long[] {2, 2}, true, false, true, false),
        "q", Tensor.ofBools(new long[] {2}, true, true));
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
  }

  /** Float→int truncates toward zero, float→bool maps NaN to true; int narrowing wraps. */
  @Test
  void castVariants() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1);
    b.placeholder("n", DType.INT64, -1);
    b.placeholder("p", DType.BOOL, -1);
    List<String> outs = new ArrayList<>();
    for (DType t : List.of(DType.INT32, DType.INT64, DType.BOOL, DType.DOUBLE, DType.FLOAT)) {
      outs.add(b.op("Cast", "f2" + t.lower(), "x").attr("SrcT", DType.FLOAT).attr("DstT", t).name());
    }
    b.op("Cast", "d", "x").attr("SrcT", DType.FLOAT).attr("DstT", DType.DOUBLE);
    outs.add(b.op("Cast", "d2f", "d").attr("SrcT", DType.DOUBLE).attr("DstT", DType.FLOAT).name());
    outs.add(b.op("Cast", "d2i", "d").attr("SrcT", DType.DOUBLE).attr("DstT", DType.INT32).name());
    for (DType t : List.of(DType.INT32, DType.FLOAT, DType.BOOL)) {
      outs.add(b.op("Cast", "n2" + t.lower(), "n").attr("SrcT", DType.INT64).attr("DstT", t).name());
    }
    for (DType t : List.of(DType.INT32, DType.FLOAT)) {
      outs.add(b.op("Cast", "p2" + t.lower(), "p").attr("SrcT", DType.BOOL).attr("DstT", t).name());
    }
    Map<String, Tensor> feeds = Map.of(
        "x", Tensor.ofFloats(new long[] {9}, -2.7f, -0.5f, -0f, 0f, 0.5f, 2.7f, 1e6f + 0.5f, Float.NaN, -1e-30f),
        "n", Tensor.ofLongs(new long[] {5}, 0, -1, 3, 1L << 33, -(1L << 40) - 5),
        "p", Tensor.ofBools(new long[] {3}, true, false, true));
    // NaN and out-of-range float→int are undefined in C++ and differ between implementations: not fed to ints.
    OpParity.check(b.build(), feeds, List.of("f2bool", "f2double", "f2float", "d2f", "n2int32", "n2float", "n2bool",
        "p2int32", "p2float"), OpParity.TOL, 17);
    Map<String, Tensor> finite = Map.of(
        "x", Tensor.ofFloats(new long[] {8}, -2.7f, -0.5f, -0f, 0f, 0.5f, 2.7f, -1e6f - 0.5f, 1e-30f),
        "n", Tensor.ofLongs(new long[] {1}, 0), "p", Tensor.ofBools(new long[] {1}, true));
    OpParity.check(b.build(), finite, List.of("f2int32", "f2int64", "d2i"), OpParity.TOL, 17);
  }

  /**
   * Legacy Select with a rank-1 condition picks whole rows; the unselected branch holds −inf and NaN, which must not
   * leak into the result (a blend c·a + (1−c)·b would turn them into NaN).
   */
  @Test
  void selectPicksRowsAndNeverBlends() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("c", DType.BOOL, -1);
    b.placeholder("cm", DType.BOOL, -1, 3);
    b.placeholder("cs", DType.BOOL);
    b.placeholder("x", DType.FLOAT, -1, 3);
    b.placeholder("y", DType.FLOAT, -1, 3);
    b.op("Select", "rows", "c", "x", "y").attr("T", DType.FLOAT);
    b.op("Select", "elems", "cm", "x", "y").attr("T", DType.FLOAT);
    b.op("Select", "scalar", "cs", "x", "y").attr("T", DType.FLOAT);
    b.placeholder("v", DType.INT32, -1);
    b.placeholder("w", DType.INT32, -1);
    b.op("Select", "vec", "c", "v", "w").attr("T", DType.INT32);
    float inf = Float.NEGATIVE_INFINITY, nan = Float.NaN;
    Map<String, Tensor> feeds = Map.of(
        "c", Tensor.ofBools(new long[] {3}, true, false, true),
        "cm", Tensor.ofBools(new long[] {3, 3}, true, false, true, false, false, true, true, true, false),
        "cs", Tensor.ofBools(new long[0], false),
        "x", Tensor.ofFloats(new long[] {3, 3}, 1, 2, 3, nan, inf, nan, 7, 8, 9),
        "y", Tensor.ofFloats(new long[] {3, 3}, inf, nan, inf, 4, 5, 6, nan, inf, nan),
        "v", Tensor.ofInts(new long[] {3}, 1, 2, 3),
        "w", Tensor.ofInts(new long[] {3}, -1, -2, -3));
    OpParity.Result r = OpParity.check(b.build(), feeds, List.of("rows", "elems", "scalar", "vec"), OpParity.TOL, 17);
    Tensor rows = r.onnx().get("rows");
    for (long i = 0; i < rows.size(); i++) assertFalse(Double.isNaN(rows.getDouble(i)), "NaN at " + i);
    assertEquals(4, r.count("Where"));
    assertEquals(0, r.count("Mul") + r.count("Add") + r.count("Sub"), "selection is never arithmetic");
    OpParity.check(b.build(), feeds, List.of("rows", "elems"), OpParity.TOL, 13);
    OpParity.check(b.build(), feeds, List.of("rows", "elems"), OpParity.TOL, 23);
  }

  /** Operands of unknown rank: the condition is reshaped at run time. */
  @Test
  void selectWithUnknownRanks() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("c", DType.BOOL, (long[]) null);
    b.placeholder("x", DType.FLOAT, (long[]) null);
    b.placeholder("y", DType.FLOAT, (long[]) null);
    b.op("Select", "s", "c", "x", "y").attr("T", DType.FLOAT);
    Tensor x = OpParity.normal(1, 2, 2, 3), y = OpParity.normal(2, 2, 2, 3);
    OpParity.check(b.build(), Map.of("c", Tensor.ofBools(new long[] {2}, false, true), "x", x, "y", y), "s");
    OpParity.check(b.build(), Map.of("c", OpParity.bools(3, 2, 2, 3), "x", x, "y", y), "s");
  }

  @Test
  void selectV2Broadcasts() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("c", DType.BOOL, -1, 1);
    b.placeholder("x", DType.FLOAT, 1, 4);
    b.constant("y", Tensor.scalarFloat(Float.NEGATIVE_INFINITY));
    b.op("SelectV2", "s", "c", "x", "y").attr("T", DType.FLOAT);
    b.placeholder("i", DType.INT64, 4);
    b.constant("z", Tensor.ofLongs(new long[0], -1));
    b.op("SelectV2", "si", "c", "i", "z").attr("T", DType.INT64);
    Map<String, Tensor> feeds = Map.of("c", Tensor.ofBools(new long[] {3, 1}, true, false, true),
        "x", OpParity.normal(4, 1, 4), "i", Tensor.ofLongs(new long[] {4}, 5, 6, 7, 8));
    OpParity.Result r = OpParity.check(b.build(), feeds, List.of("s", "si"), OpParity.TOL, 17);
    assertEquals(2, r.count("Where"));
  }

  @Test
  void floatClassification() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1);
    List<String> outs = new ArrayList<>();
    for (String op : List.of("IsNan", "IsInf", "IsFinite")) outs.add(b.op(op, op.toLowerCase(), "x").attr("T", DType.FLOAT).name());
    Map<String, Tensor> feeds = Map.of("x", Tensor.ofFloats(new long[] {5}, 1f, Float.NaN, Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY, -0f));
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
  }
}
