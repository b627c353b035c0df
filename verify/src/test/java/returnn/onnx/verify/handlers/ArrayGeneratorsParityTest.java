package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/** Tile / Fill / ZerosLike / OnesLike / Range / BroadcastTo / BroadcastArgs against TensorFlow. */
class ArrayGeneratorsParityTest {
  private static long[] s(long... d) {
    return d;
  }

  @Test
  void tileWithInt32AndInt64MultiplesAndDynamicDims() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3);
    b.placeholder("m", DType.BOOL, 2, -1);
    b.placeholder("md", DType.INT32, 2);
    b.constant("c32", Tensor.ofInts(s(2), 2, 1));
    b.constant("c64", Tensor.ofLongs(s(2), 1, 3));
    b.op("Tile", "t1", "x", "c32").attr("T", DType.FLOAT).attr("Tmultiples", DType.INT32);
    b.op("Tile", "t2", "m", "c64").attr("T", DType.BOOL).attr("Tmultiples", DType.INT64);
    b.op("Tile", "t3", "x", "md").attr("T", DType.FLOAT).attr("Tmultiples", DType.INT32);
    OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 3), "m", OpParity.bools(2, 2, 2),
        "md", Tensor.ofInts(s(2), 3, 2)), "t1", "t2", "t3");
  }

  @Test
  void fillWithConstantAndRunTimeValuesAndDims() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("dims", DType.INT32, 2);
    b.placeholder("dims64", DType.INT64, 3);
    b.placeholder("v", DType.FLOAT);
    b.constant("cdims", Tensor.ofInts(s(2), 2, 3));
    b.constant("cv", Tensor.scalarFloat(-2.5f));
    b.constant("cb", Tensor.ofBools(s(), true));
    b.constant("ci", Tensor.scalarLong(7));
    b.op("Fill", "f1", "dims", "cv").attr("T", DType.FLOAT).attr("index_type", DType.INT32);
    b.op("Fill", "f2", "dims", "v").attr("T", DType.FLOAT).attr("index_type", DType.INT32);
    b.op("Fill", "f3", "dims64", "cb").attr("T", DType.BOOL).attr("index_type", DType.INT64);
    b.op("Fill", "f4", "cdims", "ci").attr("T", DType.INT64).attr("index_type", DType.INT32);
    b.op("Fill", "f5", "cdims", "v").attr("T", DType.FLOAT).attr("index_type", DType.INT32);
    OpParity.Result r = OpParity.check(b.build(), Map.of("dims", Tensor.ofInts(s(2), 3, 1),
        "dims64", Tensor.ofLongs(s(3), 2, 0, 4), "v", Tensor.scalarFloat(Float.NaN)), "f1", "f2", "f3", "f4", "f5");
    assertEquals(2, r.count("ConstantOfShape"), "constant values use ConstantOfShape (f4 folds to a constant)");
  }

  @Test
  void zerosLikeAndOnesLikeKeepDtypeAndDynamicShape() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3);
    b.placeholder("m", DType.BOOL, -1);
    b.placeholder("i", DType.INT32, 2, -1);
    b.placeholder("sc", DType.INT64);
    b.placeholder("xs", DType.DOUBLE, 2, 2);
    for (String in : List.of("x", "m", "i", "sc", "xs")) {
      DType t = switch (in) {
        case "x" -> DType.FLOAT;
        case "m" -> DType.BOOL;
        case "i" -> DType.INT32;
        case "sc" -> DType.INT64;
        default -> DType.DOUBLE;
      };
      b.op("ZerosLike", "z_" + in, in).attr("T", t);
      b.op("OnesLike", "o_" + in, in).attr("T", t);
    }
    OpParity.check(b.build(), Map.of("x", OpParity.normal(3, 4, 3), "m", OpParity.bools(4, 5),
        "i", OpParity.ints(5, -3, 3, 2, 2), "sc", Tensor.scalarLong(9),
        "xs", Tensor.ofDoubles(s(2, 2), 1, Double.NaN, 3, 4)),
        "z_x", "o_x", "z_m", "o_m", "z_i", "o_i", "z_sc", "o_sc", "z_xs", "o_xs");
  }

  @Test
  void rangeForIntAndFloatTypesEmptyAndNegativeDelta() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("s32", DType.INT32);
    b.placeholder("l32", DType.INT32);
    b.placeholder("d32", DType.INT32);
    b.placeholder("l64", DType.INT64);
    b.placeholder("sf", DType.FLOAT);
    b.placeholder("lf", DType.FLOAT);
    b.constant("c0", Tensor.scalarLong(0));
    b.constant("c1", Tensor.scalarLong(1));
    b.constant("df", Tensor.scalarFloat(0.3f));
    b.constant("dfn", Tensor.scalarFloat(-0.75f));
    b.op("Range", "r1", "s32", "l32", "d32").attr("Tidx", DType.INT32);
    b.op("Range", "r2", "c0", "l64", "c1").attr("Tidx", DType.INT64);
    b.op("Range", "r3", "sf", "lf", "df").attr("Tidx", DType.FLOAT);
    b.op("Range", "r4", "lf", "sf", "dfn").attr("Tidx", DType.FLOAT);
    b.op("Range", "r5", "s32", "s32", "d32").attr("Tidx", DType.INT32); // empty (TF rejects limit on the wrong side)
    List<String> outs = List.of("r1", "r2", "r3", "r4", "r5");
    OpParity.check(b.build(), Map.of("s32", Tensor.ofInts(s(), -7), "l32", Tensor.ofInts(s(), 6),
        "d32", Tensor.ofInts(s(), 3), "l64", Tensor.scalarLong(5), "sf", Tensor.scalarFloat(-1.2f),
        "lf", Tensor.scalarFloat(2.05f)), outs, OpParity.TOL, 17);
    // negative integer delta (ceil of a negative quotient) and a single element
    OpParity.check(b.build(), Map.of("s32", Tensor.ofInts(s(), 4), "l32", Tensor.ofInts(s(), -5),
        "d32", Tensor.ofInts(s(), -2), "l64", Tensor.scalarLong(1), "sf", Tensor.scalarFloat(0f),
        "lf", Tensor.scalarFloat(0.1f)), outs, OpParity.TOL, 13);
  }

  @Test
  void broadcastToAndBroadcastArgs() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 1);
    b.placeholder("shp", DType.INT32, 3);
    b.constant("cshp", Tensor.ofLongs(s(3), 2, 4, 3));
    b.op("BroadcastTo", "bt1", "x", "shp").attr("T", DType.FLOAT).attr("Tidx", DType.INT32);
    b.placeholder("m", DType.BOOL, 3);
    b.op("BroadcastTo", "bt2", "m", "cshp").attr("T", DType.BOOL).attr("Tidx", DType.INT64);
    b.placeholder("a", DType.INT32, 3);
    b.placeholder("c", DType.INT32, -1);
    b.placeholder("a64", DType.INT64, 2);
    b.constant("k64", Tensor.ofLongs(s(4), 5, 1, 1, 0));
    b.op("BroadcastArgs", "ba1", "a", "c").attr("T", DType.INT32);
    b.op("BroadcastArgs", "ba2", "c", "a").attr("T", DType.INT32);
    b.op("BroadcastArgs", "ba3", "a64", "k64").attr("T", DType.INT64);
    List<String> outs = List.of("bt1", "bt2", "ba1", "ba2", "ba3");
    OpParity.check(b.build(), Map.of("x", OpParity.normal(6, 4, 1), "shp", Tensor.ofInts(s(3), 2, 4, 5),
        "m", OpParity.bools(7, 3), "a", Tensor.ofInts(s(3), 1, 4, 1), "c", Tensor.ofInts(s(5), 2, 3, 1, 4, 6),
        "a64", Tensor.ofLongs(s(2), 7, 1)), outs, OpParity.TOL, 17);
    // shorter run-time vector, and 0-sized dims against 1
    OpParity.check(b.build(), Map.of("x", OpParity.normal(8, 3, 1), "shp", Tensor.ofInts(s(3), 1, 3, 2),
        "m", OpParity.bools(9, 3), "a", Tensor.ofInts(s(3), 0, 1, 2), "c", Tensor.ofInts(s(1), 1),
        "a64", Tensor.ofLongs(s(2), 1, 0)), outs, OpParity.TOL, 17);
  }
}
