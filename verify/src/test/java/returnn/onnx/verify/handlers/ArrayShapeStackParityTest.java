package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/** Pack, Unpack, ConcatV2, Concat, Split, SplitV against TensorFlow. */
class ArrayShapeStackParityTest {
  private static long[] s(long... d) {
    return d;
  }

  @Test
  void packOnEveryAxisIncludingNegativeAndScalars() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("a", DType.FLOAT, -1, 3);
    b.placeholder("c", DType.FLOAT, -1, 3);
    b.placeholder("i", DType.INT32);
    b.placeholder("j", DType.INT64, 2);
    b.constant("k", Tensor.ofInts(s(), 7));
    b.constant("l", Tensor.ofLongs(s(2), -4, 5));
    for (long axis : new long[] {0, 1, 2, -1, -3}) {
      b.op("Pack", "p" + (axis < 0 ? "m" + -axis : axis), "a", "c", "a").attr("T", DType.FLOAT).attr("N", 3L).attr("axis", axis);
    }
    b.op("Pack", "ps", "i", "k", "i").attr("T", DType.INT32).attr("N", 3L).attr("axis", 0L);
    b.op("Pack", "pj", "j", "l").attr("T", DType.INT64).attr("N", 2L).attr("axis", -1L);
    b.op("Pack", "psingle", "a").attr("T", DType.FLOAT).attr("N", 1L).attr("axis", 1L);
    b.op("Pack", "pc", "k", "k").attr("T", DType.INT32).attr("N", 2L).attr("axis", 0L);
    Map<String, Tensor> feeds = Map.of("a", OpParity.normal(1, 2, 3), "c", OpParity.normal(2, 2, 3),
        "i", Tensor.ofInts(s(), -3), "j", Tensor.ofLongs(s(2), 8, 9));
    List<String> outs = List.of("p0", "p1", "p2", "pm1", "pm3", "ps", "pj", "psingle", "pc");
    OpParity.Result r = OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
    assertEquals(7, r.count("Concat"), "the constant pack folds; a single-input pack is an Unsqueeze");
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 13);
  }

  @Test
  void unpackOnPositiveAndNegativeAxesWithUnusedOutputs() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 3, -1, 2);
    b.placeholder("xi", DType.INT32, -1, 4);
    b.op("Unpack", "u0", "x").attr("T", DType.FLOAT).attr("num", 3L).attr("axis", 0L);
    b.op("Unpack", "u2", "x").attr("T", DType.FLOAT).attr("num", 2L).attr("axis", -1L);
    b.op("Unpack", "ui", "xi").attr("T", DType.INT32).attr("num", 4L).attr("axis", 1L);
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(1, 3, 4, 2), "xi", OpParity.ints(2, -9, 9, 2, 4));
    OpParity.Result r = OpParity.check(b.build(), feeds,
        List.of("u0", "u0:2", "u2:1", "ui:3", "ui:1"), OpParity.TOL, 17);
    assertEquals(5, r.count("Gather"), "only the used outputs are computed");
  }

  @Test
  void concatV2AndLegacyConcatWithNegativeAxes() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("a", DType.FLOAT, -1, 3);
    b.placeholder("c", DType.FLOAT, -1, 2);
    b.placeholder("e", DType.FLOAT, -1, 0);
    b.placeholder("i", DType.INT64, 2);
    b.constant("ax1", Tensor.ofInts(s(), 1));
    b.constant("axm1", Tensor.ofLongs(s(), -1));
    b.constant("ax0", Tensor.ofInts(s(), 0));
    b.constant("ci", Tensor.ofLongs(s(3), 1, 2, 3));
    b.op("ConcatV2", "c1", "a", "c", "a", "ax1").attr("T", DType.FLOAT).attr("N", 3L).attr("Tidx", DType.INT32);
    b.op("ConcatV2", "c2", "a", "e", "c", "axm1").attr("T", DType.FLOAT).attr("N", 3L).attr("Tidx", DType.INT64);
    b.op("ConcatV2", "c3", "a", "a", "ax0").attr("T", DType.FLOAT).attr("N", 2L).attr("Tidx", DType.INT32);
    b.op("ConcatV2", "c4", "i", "ci", "ax0").attr("T", DType.INT64).attr("N", 2L).attr("Tidx", DType.INT32);
    b.op("ConcatV2", "c5", "ci", "ci", "axm1").attr("T", DType.INT64).attr("N", 2L).attr("Tidx", DType.INT64);
    b.op("Concat", "c6", "ax1", "c", "a").attr("T", DType.FLOAT).attr("N", 2L);
    Map<String, Tensor> feeds = Map.of("a", OpParity.normal(1, 2, 3), "c", OpParity.normal(2, 2, 2),
        "e", Tensor.ofFloats(s(2, 0)), "i", Tensor.ofLongs(s(2), -1, 0));
    List<String> outs = List.of("c1", "c2", "c3", "c4", "c5", "c6");
    OpParity.Result r = OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
    assertEquals(5, r.count("Concat"), "the constant concat folds");
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 13);
  }

  /** Split's split_dim is the first input; with a dynamic dim ONNX splits equally (num_outputs from opset 18). */
  @Test
  void splitStaticAndDynamicDimsAcrossOpsets() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 6);
    b.placeholder("xd", DType.FLOAT, -1, -1);
    b.constant("d1", Tensor.ofInts(s(), 1));
    b.constant("dm1", Tensor.ofInts(s(), -1));
    b.constant("d0", Tensor.ofInts(s(), 0));
    b.constant("cw", Tensor.ofInts(s(4, 2), 1, 2, 3, 4, 5, 6, 7, 8));
    b.op("Split", "s1", "d1", "x").attr("T", DType.FLOAT).attr("num_split", 3L);
    b.op("Split", "s2", "dm1", "xd").attr("T", DType.FLOAT).attr("num_split", 2L);
    b.op("Split", "s3", "d0", "xd").attr("T", DType.FLOAT).attr("num_split", 2L);
    b.op("Split", "s4", "d0", "cw").attr("T", DType.INT32).attr("num_split", 2L);
    b.op("Split", "s5", "d1", "x").attr("T", DType.FLOAT).attr("num_split", 1L);
    List<String> outs = List.of("s1", "s1:1", "s1:2", "s2", "s2:1", "s3:1", "s4:1", "s5");
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(1, 2, 6), "xd", OpParity.normal(2, 4, 6));
    for (int opset : new int[] {13, 17, 18, 23}) {
      OpParity.Result r = OpParity.check(b.build(), feeds, outs, OpParity.TOL, opset);
      assertEquals(3, r.count("Split"), "the constant split folds; num_split 1 is the identity");
    }
  }

  @Test
  void splitVWithMinusOneOnStaticAndDynamicDims() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 3, 7);
    b.placeholder("xd", DType.FLOAT, 3, -1);
    b.placeholder("sz", DType.INT64, 3);
    b.constant("sizes", Tensor.ofInts(s(3), 1, -1, 2));
    b.constant("sizes64", Tensor.ofLongs(s(2), 2, 1));
    b.constant("zsizes", Tensor.ofInts(s(3), 0, 7, 0));
    b.constant("d1", Tensor.ofInts(s(), 1));
    b.constant("dm1", Tensor.ofInts(s(), -1));
    b.constant("d0", Tensor.ofInts(s(), 0));
    b.op("SplitV", "v1", "x", "sizes", "d1").attr("T", DType.FLOAT).attr("Tlen", DType.INT32).attr("num_split", 3L);
    b.op("SplitV", "v2", "xd", "sizes", "dm1").attr("T", DType.FLOAT).attr("Tlen", DType.INT32).attr("num_split", 3L);
    b.op("SplitV", "v3", "x", "sizes64", "d0").attr("T", DType.FLOAT).attr("Tlen", DType.INT64).attr("num_split", 2L);
    b.op("SplitV", "v4", "xd", "sz", "d1").attr("T", DType.FLOAT).attr("Tlen", DType.INT64).attr("num_split", 3L);
    b.op("SplitV", "v5", "x", "zsizes", "d1").attr("T", DType.FLOAT).attr("Tlen", DType.INT32).attr("num_split", 3L);
    List<String> outs = List.of("v1", "v1:1", "v1:2", "v2", "v2:1", "v2:2", "v3", "v3:1", "v4", "v4:1", "v4:2", "v5",
        "v5:1", "v5:2");
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(1, 3, 7), "xd", OpParity.normal(2, 3, 7),
        "sz", Tensor.ofLongs(s(3), 3, 0, 4));
    for (int opset : new int[] {13, 23}) OpParity.check(b.build(), feeds, outs, OpParity.TOL, opset);
  }
}
