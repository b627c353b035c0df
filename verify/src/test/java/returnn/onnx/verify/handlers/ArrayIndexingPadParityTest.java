package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/** Pad / PadV2 / MirrorPad / ReverseV2 / ReverseSequence / MatrixBandPart against TensorFlow. */
class ArrayIndexingPadParityTest {
  private static long[] s(long... d) {
    return d;
  }

  @Test
  void padAndPadV2AcrossOpsets() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3);
    b.placeholder("m", DType.BOOL, 2, -1);
    b.placeholder("pd", DType.INT32, 2, 2);
    b.constant("p32", Tensor.ofInts(s(2, 2), 1, 2, 0, 3));
    b.constant("p64", Tensor.ofLongs(s(2, 2), 0, 1, 2, 0));
    b.constant("cv", Tensor.scalarFloat(Float.NEGATIVE_INFINITY));
    b.constant("ct", Tensor.ofBools(s(), true));
    b.op("Pad", "a", "x", "p32").attr("T", DType.FLOAT).attr("Tpaddings", DType.INT32);
    b.op("Pad", "bm", "m", "p64").attr("T", DType.BOOL).attr("Tpaddings", DType.INT64);
    b.op("PadV2", "c", "x", "p64", "cv").attr("T", DType.FLOAT).attr("Tpaddings", DType.INT64);
    b.op("PadV2", "d", "m", "pd", "ct").attr("T", DType.BOOL).attr("Tpaddings", DType.INT32);
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(1, 2, 3), "m", OpParity.bools(2, 2, 4),
        "pd", Tensor.ofInts(s(2, 2), 2, 0, 1, 1));
    for (int opset : new int[] {13, 17, 23}) {
      OpParity.check(b.build(), feeds, List.of("a", "bm", "c", "d"), OpParity.TOL, opset);
    }
  }

  @Test
  void mirrorPadReflectAndSymmetricWithStaticAndDynamicPaddings() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 4);
    b.placeholder("xi", DType.INT32, 3, 3);
    b.placeholder("pd", DType.INT64, 2, 2);
    b.constant("p", Tensor.ofInts(s(2, 2), 2, 1, 0, 3));
    b.constant("pf", Tensor.ofInts(s(2, 2), 3, 3, 1, 2)); // SYMMETRIC allows padding the full dim
    for (String mode : List.of("REFLECT", "SYMMETRIC")) {
      String m = mode.toLowerCase();
      b.op("MirrorPad", m + "_s", "x", "p").attr("T", DType.FLOAT).attr("Tpaddings", DType.INT32).attr("mode", mode);
      b.op("MirrorPad", m + "_d", "x", "pd").attr("T", DType.FLOAT).attr("Tpaddings", DType.INT64).attr("mode", mode);
    }
    b.op("MirrorPad", "full", "xi", "pf").attr("T", DType.INT32).attr("Tpaddings", DType.INT32).attr("mode", "SYMMETRIC");
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(3, 3, 4), "xi", OpParity.ints(4, -9, 9, 3, 3),
        "pd", Tensor.ofLongs(s(2, 2), 0, 2, 3, 0));
    List<String> outs = List.of("reflect_s", "reflect_d", "symmetric_s", "symmetric_d", "full");
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 13);
  }

  @Test
  void reverseV2NegativeAndMultipleAxes() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, -1, 3);
    b.placeholder("m", DType.BOOL, 4);
    b.constant("a1", Tensor.ofInts(s(1), -1));
    b.constant("a2", Tensor.ofLongs(s(2), 0, -2));
    b.constant("a0", Tensor.ofInts(s(0)));
    b.constant("dims", Tensor.ofBools(s(3), true, false, true));
    b.op("ReverseV2", "r1", "x", "a1").attr("T", DType.FLOAT).attr("Tidx", DType.INT32);
    b.op("ReverseV2", "r2", "x", "a2").attr("T", DType.FLOAT).attr("Tidx", DType.INT64);
    b.op("ReverseV2", "r0", "x", "a0").attr("T", DType.FLOAT).attr("Tidx", DType.INT32);
    b.op("ReverseV2", "rm", "m", "a1").attr("T", DType.BOOL).attr("Tidx", DType.INT32);
    b.op("Reverse", "rl", "x", "dims").attr("T", DType.FLOAT);
    OpParity.check(b.build(), Map.of("x", OpParity.normal(5, 2, 4, 3), "m", OpParity.bools(6, 4)),
        "r1", "r2", "r0", "rm", "rl");
  }

  @Test
  void reverseSequenceOnAnyBatchAndSeqDims() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 3, -1, 2, 4); // [B=3, T, 2, 4]
    b.placeholder("l32", DType.INT32, 3);
    b.placeholder("l64", DType.INT64, 4);
    b.placeholder("l2", DType.INT64, 2);
    b.placeholder("l5", DType.INT32, -1);
    long[][] cases = {{0, 1}, {3, 1}, {2, 1}, {1, 3}}; // batch_dim, seq_dim
    String[] lens = {"l32", "l64", "l2", "l5"};
    for (int k = 0; k < cases.length; k++) {
      b.op("ReverseSequence", "rs" + k, "x", lens[k]).attr("T", DType.FLOAT)
          .attr("Tlen", lens[k].equals("l32") || lens[k].equals("l5") ? DType.INT32 : DType.INT64)
          .attr("batch_dim", cases[k][0]).attr("seq_dim", cases[k][1]);
    }
    // time-major [T, B] with bool data: batch_dim 1, seq_dim 0 maps directly
    b.placeholder("tm", DType.BOOL, -1, 3);
    b.op("ReverseSequence", "tmr", "tm", "l32").attr("T", DType.BOOL).attr("Tlen", DType.INT32)
        .attr("batch_dim", 1L).attr("seq_dim", 0L);
    // length 0 must copy the row: ONNX Runtime's kernel leaves it uninitialized
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(7, 3, 5, 2, 4), "l32", Tensor.ofInts(s(3), 5, 0, 3),
        "l64", Tensor.ofLongs(s(4), 1, 5, 2, 4), "l2", Tensor.ofLongs(s(2), 5, 3), "l5", Tensor.ofInts(s(5), 4, 0, 1, 3, 2), "tm", OpParity.bools(8, 5, 3));
    OpParity.Result r = OpParity.check(b.build(), feeds, "rs0", "rs1", "rs2", "rs3", "tmr");
    assertEquals(5, r.count("ReverseSequence"));
  }

  @Test
  void matrixBandPartOnBoolAndFloatWithStaticAndDynamicSizes() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("f", DType.FLOAT, 2, -1, -1);
    b.placeholder("fs", DType.FLOAT, 4, 5);
    b.placeholder("m", DType.BOOL, -1, -1);
    b.placeholder("lo", DType.INT64);
    b.placeholder("up", DType.INT64);
    long[][] bands = {{-1, 0}, {0, -1}, {1, 2}, {0, 0}, {-1, -1}};
    for (int k = 0; k < bands.length; k++) {
      b.constant("l" + k, Tensor.scalarLong(bands[k][0]));
      b.constant("u" + k, Tensor.scalarLong(bands[k][1]));
      b.op("MatrixBandPart", "f" + k, "f", "l" + k, "u" + k).attr("T", DType.FLOAT).attr("Tindex", DType.INT64);
      b.op("MatrixBandPart", "fs" + k, "fs", "l" + k, "u" + k).attr("T", DType.FLOAT).attr("Tindex", DType.INT64);
      b.op("MatrixBandPart", "m" + k, "m", "l" + k, "u" + k).attr("T", DType.BOOL).attr("Tindex", DType.INT64);
    }
    b.op("MatrixBandPart", "fd", "f", "lo", "up").attr("T", DType.FLOAT).attr("Tindex", DType.INT64);
    b.op("MatrixBandPart", "md", "m", "lo", "up").attr("T", DType.BOOL).attr("Tindex", DType.INT64);
    b.constant("l32", Tensor.ofInts(s(), 0));
    b.constant("u32", Tensor.ofInts(s(), 1));
    b.op("MatrixBandPart", "m32", "m", "l32", "u32").attr("T", DType.BOOL).attr("Tindex", DType.INT32);
    float inf = Float.POSITIVE_INFINITY;
    Tensor f = Tensor.ofFloats(s(2, 3, 4), inf, -inf, Float.NaN, 1, 2, inf, 3, -inf, 4, 5, 6, 7,
        -1, -2, -3, -4, -5, -6, -7, -8, inf, inf, inf, inf);
    List<String> outs = new java.util.ArrayList<>();
    for (int k = 0; k < bands.length; k++) outs.addAll(List.of("f" + k, "fs" + k, "m" + k));
    outs.addAll(List.of("fd", "md", "m32"));
    for (long[] dyn : new long[][] {{1, -1}, {-1, 0}, {0, 2}}) {
      Map<String, Tensor> feeds = Map.of("f", f, "fs", OpParity.normal(9, 4, 5), "m", OpParity.bools(10, 5, 3),
          "lo", Tensor.scalarLong(dyn[0]), "up", Tensor.scalarLong(dyn[1]));
      OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
    }
  }
}
