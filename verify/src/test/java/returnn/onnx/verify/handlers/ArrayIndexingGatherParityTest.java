package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/** GatherV2 / Gather / GatherNd / ScatterNd / one-input Where / OneHot against TensorFlow. */
class ArrayIndexingGatherParityTest {
  private static Tensor i32(long[] shape, int... v) {
    return Tensor.ofInts(shape, v);
  }

  private static Tensor i64(long[] shape, long... v) {
    return Tensor.ofLongs(shape, v);
  }

  private static long[] s(long... d) {
    return d;
  }

  @Test
  void gatherV2AxesIndexTypesAndDynamicDims() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("p", DType.FLOAT, -1, 4, 3);
    b.placeholder("i32", DType.INT32, -1);
    b.placeholder("i64", DType.INT64, 2, 2);
    String[][] cases = {{"i32", "0"}, {"i32", "1"}, {"i64", "-1"}, {"i64", "-2"}, {"i64", "0"}};
    for (int k = 0; k < cases.length; k++) {
      DType it = cases[k][0].equals("i32") ? DType.INT32 : DType.INT64;
      b.constant("axis" + k, it == DType.INT32 ? Tensor.ofInts(s(), Integer.parseInt(cases[k][1]))
          : Tensor.scalarLong(Long.parseLong(cases[k][1])));
      b.op("GatherV2", "g" + k, "p", cases[k][0], "axis" + k).attr("Tparams", DType.FLOAT).attr("Tindices", it)
          .attr("Taxis", it);
    }
    b.op("Gather", "legacy", "p", "i64").attr("Tparams", DType.FLOAT).attr("Tindices", DType.INT64)
        .attr("validate_indices", true);
    OpParity.check(b.build(), Map.of("p", OpParity.normal(1, 3, 4, 3), "i32", i32(s(4), 2, 0, 2, 1),
        "i64", i64(s(2, 2), 0, 2, 1, 1)), "g0", "g1", "g2", "g3", "g4", "legacy");
  }

  @Test
  void gatherV2BatchDims() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("p", DType.FLOAT, -1, 3, 4, 2); // [B, 3, 4, 2]
    b.placeholder("idx", DType.INT32, -1, 5); // [B, 5], values < 3
    b.placeholder("idx2", DType.INT64, -1, 3, 2); // [B, 3, 2], values < 4
    b.constant("a1", Tensor.ofInts(s(), 1));
    b.constant("a2", Tensor.ofInts(s(), 2));
    b.constant("am2", Tensor.ofInts(s(), -2));
    b.constant("a3", Tensor.ofInts(s(), 3));
    // axis == batch_dims
    b.op("GatherV2", "g1", "p", "idx", "a1").attr("Tparams", DType.FLOAT).attr("Tindices", DType.INT32)
        .attr("Taxis", DType.INT32).attr("batch_dims", 1L);
    // axis > batch_dims: params dims between batch and axis stay in front of the indices dims
    b.op("GatherV2", "g2", "p", "idx2", "a2").attr("Tparams", DType.FLOAT).attr("Tindices", DType.INT64)
        .attr("Taxis", DType.INT32).attr("batch_dims", 1L);
    // batch_dims 2 with a negative axis; batch_dims -1 counts from the indices rank (2 here)
    b.op("GatherV2", "g3", "p", "idx2", "am2").attr("Tparams", DType.FLOAT).attr("Tindices", DType.INT64)
        .attr("Taxis", DType.INT32).attr("batch_dims", 2L);
    b.op("GatherV2", "g4", "p", "idx2", "a3").attr("Tparams", DType.FLOAT).attr("Tindices", DType.INT64)
        .attr("Taxis", DType.INT32).attr("batch_dims", -1L);
    Map<String, Tensor> feeds = Map.of("p", OpParity.normal(2, 2, 3, 4, 2), "idx", OpParity.ints(3, 0, 3, 2, 5),
        "idx2", OpParity.longs(4, 0, 2, 2, 3, 2));
    OpParity.Result r = OpParity.check(b.build(), feeds, "g1", "g2", "g3", "g4");
    assertEquals(4, r.count("GatherND"));
    // consumers that need a rank (transposes, reductions) get one through GatherND's type inference
    long[] ranks = r.converted().graph().outputs().stream().mapToLong(v -> v.shape().rank()).toArray();
    assertArrayEquals(new long[] {4, 5, 4, 4}, ranks);
  }

  @Test
  void gatherNdWithInt32AndInt64Indices() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("p", DType.FLOAT, -1, 3, 2);
    b.placeholder("i32", DType.INT32, -1, 2);
    b.placeholder("i64", DType.INT64, 2, 2, 3);
    b.op("GatherNd", "n1", "p", "i32").attr("Tparams", DType.FLOAT).attr("Tindices", DType.INT32);
    b.op("GatherNd", "n2", "p", "i64").attr("Tparams", DType.FLOAT).attr("Tindices", DType.INT64);
    OpParity.check(b.build(), Map.of("p", OpParity.normal(5, 4, 3, 2), "i32", i32(s(3, 2), 3, 2, 0, 0, 1, 1),
        "i64", i64(s(2, 2, 3), 0, 0, 1, 3, 2, 0, 1, 1, 1, 2, 1, 0)), "n1", "n2");
  }

  @Test
  void whereWithOneInputGivesCoordinatesForBoolFloatAndInt() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("c", DType.BOOL, -1, 3);
    b.placeholder("f", DType.FLOAT, 2, -1, 2);
    b.placeholder("d", DType.DOUBLE, 4);
    b.placeholder("n", DType.INT32, -1);
    b.op("Where", "wb", "c").attr("T", DType.BOOL);
    b.op("Where", "wf", "f").attr("T", DType.FLOAT);
    b.op("Where", "wd", "d").attr("T", DType.DOUBLE);
    b.op("Where", "wn", "n").attr("T", DType.INT32);
    float nan = Float.NaN;
    Map<String, Tensor> feeds = Map.of("c", OpParity.bools(6, 4, 3),
        "f", Tensor.ofFloats(s(2, 3, 2), 0, 1, -0f, nan, 2, 0, 0, 0, -3, Float.POSITIVE_INFINITY, 0, 5),
        "d", Tensor.ofDoubles(s(4), 0, Double.NaN, -1e-300, 0), "n", i32(s(5), 0, -1, 0, 7, 0));
    OpParity.check(b.build(), feeds, "wb", "wf", "wd", "wn");
  }

  @Test
  void oneHotOutOfRangeAndNegativeIndicesGiveAllOffRows() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("i32", DType.INT32, -1);
    b.placeholder("i64", DType.INT64, 2, -1);
    b.placeholder("u8", DType.UINT8, 3);
    b.constant("depth", Tensor.ofInts(s(), 4));
    b.placeholder("ddyn", DType.INT32);
    b.constant("on", Tensor.scalarFloat(2.5f));
    b.constant("off", Tensor.scalarFloat(-1f));
    b.constant("ion", Tensor.ofInts(s(), 7));
    b.constant("ioff", Tensor.ofInts(s(), 0));
    b.op("OneHot", "h1", "i32", "depth", "on", "off").attr("T", DType.FLOAT).attr("TI", DType.INT32).attr("axis", -1L);
    b.op("OneHot", "h2", "i64", "depth", "ion", "ioff").attr("T", DType.INT32).attr("TI", DType.INT64).attr("axis", 0L);
    b.op("OneHot", "h3", "i64", "ddyn", "on", "off").attr("T", DType.FLOAT).attr("TI", DType.INT64).attr("axis", 1L);
    b.op("OneHot", "h4", "i64", "depth", "on", "off").attr("T", DType.FLOAT).attr("TI", DType.INT64).attr("axis", 2L);
    b.op("OneHot", "h5", "u8", "depth", "ion", "ioff").attr("T", DType.INT32).attr("TI", DType.UINT8);
    // ONNX Runtime has no Where kernel for bool or int8: these take the And/Or and widening paths
    b.constant("bon", Tensor.ofBools(s(), true));
    b.constant("boff", Tensor.ofBools(s(), false));
    b.constant("b8on", Tensor.fromLongs(DType.INT8, s(), new long[] {-7}));
    b.constant("b8off", Tensor.fromLongs(DType.INT8, s(), new long[] {3}));
    b.op("OneHot", "h6", "i32", "depth", "bon", "boff").attr("T", DType.BOOL).attr("TI", DType.INT32);
    b.op("OneHot", "h7", "i32", "depth", "boff", "bon").attr("T", DType.BOOL).attr("TI", DType.INT32);
    b.op("OneHot", "h8i8", "i64", "depth", "b8on", "b8off").attr("T", DType.INT8).attr("TI", DType.INT64).attr("axis", 0L);
    // the TF Java reference cannot fetch int8: compare through a cast
    b.op("Cast", "h8", "h8i8").attr("SrcT", DType.INT8).attr("DstT", DType.INT32).attr("Truncate", false);
    Map<String, Tensor> feeds = Map.of("i32", i32(s(6), 0, -1, 3, 4, 2, -5), "i64", i64(s(2, 3), -1, 1, 9, 3, 0, -4),
        "u8", Tensor.fromLongs(DType.UINT8, s(3), new long[] {1, 255, 3}), "ddyn", i32(s(), 5));
    OpParity.check(b.build(), feeds, "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8");
  }

  /**
   * ScatterNd: duplicate indices add up in TF (RETURNN's masked_computation scatters every masked-away frame onto one
   * dropped position); int32 and float updates, slices (index depth 1 of a rank-3 shape) and full coordinates, a shape
   * known only at run time.
   */
  @Test
  void scatterNdSumsDuplicates() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("idx", DType.INT32, -1, 2); // [N, 2] full coordinates into [4, 3]
    b.placeholder("upd", DType.INT32, -1);
    b.placeholder("shape", DType.INT32, 2);
    b.placeholder("idx1", DType.INT64, -1, 1); // [N, 1] slices of [4, 2, 3]
    b.placeholder("fupd", DType.FLOAT, -1, 2, 3);
    b.constant("shape3", Tensor.ofLongs(s(3), 4, 2, 3));
    b.op("ScatterNd", "full", "idx", "upd", "shape").attr("T", DType.INT32).attr("Tindices", DType.INT32);
    b.op("ScatterNd", "slices", "idx1", "fupd", "shape3").attr("T", DType.FLOAT).attr("Tindices", DType.INT64);
    Map<String, Tensor> feeds = Map.of(
        "idx", i32(s(5, 2), 0, 1, 3, 2, 0, 1, 2, 0, 3, 2), "upd", i32(s(5), 5, 7, 11, 13, 17),
        "shape", i32(s(2), 4, 3),
        "idx1", i64(s(3, 1), 2, 0, 2), "fupd", OpParity.normal(7, 3, 2, 3));
    OpParity.check(b.build(), feeds, "full", "slices");
  }
}
