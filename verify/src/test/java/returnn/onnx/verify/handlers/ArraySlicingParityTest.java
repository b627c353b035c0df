package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.ConversionException;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/** StridedSlice (every mask, negative strides, run-time bounds) and Slice against TensorFlow. */
class ArraySlicingParityTest {
  private static long[] s(long... d) {
    return d;
  }

  /** A StridedSlice spec as Python would encode it. */
  private record Spec(String name, long[] begin, long[] end, long[] strides, int bm, int em, int ell, int na, int sh) {}

  private static final List<Spec> SPECS = List.of(
      new Spec("last_col", s(0, -1), s(0, 0), s(1, 1), 1, 1, 0, 0, 2), //          x[:, -1]
      new Spec("ell_head", s(0, 0), s(0, 3), s(1, 1), 2, 0, 1, 0, 0), //           x[..., :3]
      new Spec("reverse", s(0), s(0), s(-1), 1, 1, 0, 0, 0), //                    x[::-1]
      new Spec("step2", s(1), s(-1), s(2), 0, 0, 0, 0, 0), //                      x[1:-1:2]
      new Spec("newax_idx", s(0, 0, 0), s(0, 0, 1), s(1, 1, 1), 2, 2, 0, 1, 4), // x[None, :, 0]
      new Spec("minus1", s(-1), s(0), s(1), 0, 0, 0, 0, 1), //                     x[-1]
      new Spec("ell_new", s(0, 0), s(0, 0), s(1, 1), 0, 0, 1, 2, 0), //            x[..., None]
      new Spec("mixed", s(1, 0, 0), s(0, 0, 0), s(1, 1, -2), 4, 5, 2, 0, 0), //    x[1:, ..., ::-2]
      new Spec("rev_bounds", s(3, -1), s(0, -4), s(-1, -1), 0, 0, 0, 0, 0), //     x[3:0:-1, -1:-4:-1]
      new Spec("rev_clamp", s(10, 0, 4), s(-10, 0, -9), s(-1, 1, -2), 0, 2, 0, 0, 0), // x[10:-10:-1, :, 4:-9:-2]
      new Spec("ell_last", s(0, -1), s(0, 0), s(1, 1), 0, 0, 1, 0, 2), //          x[..., -1]
      new Spec("ell_mid", s(1, 0, 2), s(2, 0, 5), s(1, 1, 1), 0, 0, 2, 0, 1), //   x[1, ..., 2:5]
      new Spec("shrink_bm", s(2), s(0), s(1), 1, 1, 0, 0, 1), //                   begin_mask ignored on a shrunk axis
      new Spec("new_shrink", s(0, 1), s(0, 2), s(1, 1), 0, 0, 0, 1, 3), //         new axis wins over shrink: x[None, 1]
      new Spec("all_new", s(0, 0, 0), s(0, 0, 0), s(1, 1, 1), 0, 0, 2, 5, 0), //   x[None, ..., None]
      new Spec("oob_end", s(-100, 2), s(100, 100), s(1, 3), 0, 0, 0, 0, 0), //     out-of-range bounds clamp
      new Spec("rev_oob_begin", s(-7), s(0), s(-1), 0, 1, 0, 0, 0), //            x[-7::-1]: TF selects nothing
      new Spec("last_rev", s(-1, 0), s(0, 0), s(1, -1), 2, 2, 0, 0, 1), //         x[-1, ::-1]
      new Spec("full", s(0, 0, 0), s(4, 5, 6), s(1, 1, 1), 0, 0, 0, 0, 0)); //     the identity

  private static String stridedSlice(GraphDefBuilder b, String x, DType t, Spec sp, DType index) {
    String bn = b.constant(sp.name + "_b", vec(index, sp.begin)).name();
    String en = b.constant(sp.name + "_e", vec(index, sp.end)).name();
    String sn = b.constant(sp.name + "_s", vec(index, sp.strides)).name();
    return b.op("StridedSlice", sp.name, x, bn, en, sn).attr("T", t).attr("Index", index)
        .attr("begin_mask", sp.bm).attr("end_mask", sp.em).attr("ellipsis_mask", sp.ell)
        .attr("new_axis_mask", sp.na).attr("shrink_axis_mask", sp.sh).name();
  }

  private static Tensor vec(DType t, long... v) {
    return t == DType.INT64 ? Tensor.ofLongs(s(v.length), v) : Tensor.fromLongs(DType.INT32, s(v.length), v);
  }

  private static void checkSpecs(long[] placeholderDims, int opset) {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, placeholderDims);
    List<String> outs = new ArrayList<>();
    int k = 0;
    for (Spec sp : SPECS) {
      outs.add(stridedSlice(b, "x", DType.FLOAT, sp, k++ % 2 == 0 ? DType.INT32 : DType.INT64));
    }
    OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 4, 5, 6)), outs, OpParity.TOL, opset);
  }

  @Test
  void everyMaskOnStaticShape() {
    checkSpecs(s(4, 5, 6), 17);
  }

  @Test
  void everyMaskOnDynamicDimsAtOpset13And23() {
    // rev_oob_begin (begin < -dim, negative stride) on a dim of unknown size: TF selects nothing, ONNX would clamp
    // the begin to 0 and select element 0; the converter guards it at run time (docs/TF_ONNX_TRAPS.md).
    checkSpecs(s(-1, -1, 6), 13);
    checkSpecs(s(-1, 5, -1), 23);
  }

  @Test
  void everyMaskOnUnknownRank() {
    checkSpecs(null, 17);
  }

  @Test
  void intTensorAndConstantInputFold() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("i", DType.INT32, 4, -1);
    b.constant("c", Tensor.ofInts(s(3, 2), 1, 2, 3, 4, 5, 6));
    String a = stridedSlice(b, "i", DType.INT32, new Spec("ia", s(0, -1), s(0, 0), s(-1, 1), 1, 1, 0, 0, 2), DType.INT64);
    String c = stridedSlice(b, "c", DType.INT32, new Spec("ca", s(-1, 0), s(0, 0), s(-1, 1), 1, 3, 0, 0, 0), DType.INT32);
    OpParity.Result r = OpParity.check(b.build(), Map.of("i", OpParity.ints(3, -9, 9, 4, 3)), a, c);
    assertEquals(1, r.count("Slice"), "the constant input folds; only the placeholder slice remains");
  }

  /** x[i] and x[i:j] with run-time i, j: i = -1 gives end 0, which TF ignores for a shrunk axis. */
  @Test
  void runTimeBeginAndEnd() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 5);
    b.placeholder("i", DType.INT32);
    b.placeholder("j", DType.INT32);
    b.placeholder("i1", DType.INT32);
    b.placeholder("bv", DType.INT64, 2);
    b.constant("zero", Tensor.ofInts(s(), 0));
    b.constant("st1", Tensor.ofInts(s(1), 1));
    b.constant("st2", Tensor.ofInts(s(2), 1, 1));
    b.constant("st2n", Tensor.ofLongs(s(2), 1, -1));
    b.constant("e2", Tensor.ofLongs(s(2), 3, 0));
    b.op("Pack", "bi", "i").attr("T", DType.INT32).attr("N", 1L).attr("axis", 0L);
    b.op("Pack", "ei", "i1").attr("T", DType.INT32).attr("N", 1L).attr("axis", 0L);
    b.op("Pack", "bj", "i", "zero").attr("T", DType.INT32).attr("N", 2L).attr("axis", 0L);
    b.op("Pack", "ej", "j", "zero").attr("T", DType.INT32).attr("N", 2L).attr("axis", 0L);
    // x[i]
    b.op("StridedSlice", "xi", "x", "bi", "ei", "st1").attr("T", DType.FLOAT).attr("Index", DType.INT32)
        .attr("shrink_axis_mask", 1L);
    // x[i:j, 2]  (begin [i, 2])
    b.constant("two", Tensor.ofInts(s(), 2));
    b.constant("three", Tensor.ofInts(s(), 3));
    b.op("Pack", "bk", "i", "two").attr("T", DType.INT32).attr("N", 2L).attr("axis", 0L);
    b.op("Pack", "ek", "j", "three").attr("T", DType.INT32).attr("N", 2L).attr("axis", 0L);
    b.op("StridedSlice", "xk", "x", "bk", "ek", "st2").attr("T", DType.FLOAT).attr("Index", DType.INT32)
        .attr("shrink_axis_mask", 2L);
    // x[i:j, :]
    b.op("StridedSlice", "xj", "x", "bj", "ej", "st2").attr("T", DType.FLOAT).attr("Index", DType.INT32)
        .attr("end_mask", 2L);
    // x[bv[0]:3, bv[1]::-1] with a whole run-time begin vector
    b.op("StridedSlice", "xv", "x", "bv", "e2", "st2n").attr("T", DType.FLOAT).attr("Index", DType.INT64)
        .attr("end_mask", 2L);
    // x[i, 1:]: a run-time shrunk index beside another cut (end = i + 1, or to the end for i = -1)
    b.constant("c1", Tensor.ofInts(s(), 1));
    b.op("Pack", "bs", "i", "c1").attr("T", DType.INT32).attr("N", 2L).attr("axis", 0L);
    b.op("Pack", "es", "i1", "zero").attr("T", DType.INT32).attr("N", 2L).attr("axis", 0L);
    b.op("StridedSlice", "xs", "x", "bs", "es", "st2").attr("T", DType.FLOAT).attr("Index", DType.INT32)
        .attr("end_mask", 2L).attr("shrink_axis_mask", 1L);
    List<String> outs = List.of("xi", "xk", "xj", "xv", "xs");
    Tensor x = OpParity.normal(2, 6, 5);
    for (int[] ij : new int[][] {{-1, 5}, {2, 4}, {-3, -1}, {0, 6}}) {
      Map<String, Tensor> feeds = new LinkedHashMap<>();
      feeds.put("x", x);
      feeds.put("i", Tensor.ofInts(s(), ij[0]));
      feeds.put("j", Tensor.ofInts(s(), ij[1]));
      feeds.put("i1", Tensor.ofInts(s(), ij[0] + 1)); // Python's x[i] has end i + 1
      feeds.put("bv", Tensor.ofLongs(s(2), ij[0], ij[1] % 5));
      OpParity.Result r = OpParity.check(b.build(), feeds, outs, OpParity.TOL, ij[0] == 2 ? 13 : 17);
      assertEquals(1, r.count("Gather"), "x[i] is one Gather");
    }
  }

  @Test
  void runTimeStridesAreRejected() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 4);
    b.placeholder("st", DType.INT32, 1);
    b.constant("b0", Tensor.ofInts(s(1), 0));
    b.op("StridedSlice", "y", "x", "b0", "b0", "st").attr("T", DType.FLOAT).attr("Index", DType.INT32)
        .attr("begin_mask", 1L).attr("end_mask", 1L);
    ConversionException e = org.junit.jupiter.api.Assertions.assertThrows(ConversionException.class,
        () -> OpParity.convert(b.build(), List.of("y"), 17));
    assertTrue(e.getMessage().contains("strides"), e.getMessage());
  }

  @Test
  void sliceWithConstantAndRunTimeBeginAndSize() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 5, 6);
    b.placeholder("xs", DType.INT64, 3, 4);
    b.placeholder("bg", DType.INT32, 3);
    b.placeholder("sz", DType.INT64, 3);
    b.placeholder("t", DType.INT32);
    b.placeholder("bg64", DType.INT64, 3);
    b.constant("b1", Tensor.ofInts(s(3), 1, 0, 2));
    b.constant("s1", Tensor.ofInts(s(3), 2, -1, 3));
    b.constant("s2", Tensor.ofInts(s(3), -1, -1, -1));
    b.constant("s3", Tensor.ofLongs(s(3), 1, 5, -1));
    b.constant("b4", Tensor.ofLongs(s(2), 1, 1));
    b.constant("s4", Tensor.ofLongs(s(2), -1, 2));
    b.constant("zero", Tensor.ofInts(s(), 0));
    b.constant("m1", Tensor.ofInts(s(), -1));
    b.constant("four", Tensor.ofInts(s(), 4));
    b.op("Slice", "y1", "x", "b1", "s1").attr("T", DType.FLOAT).attr("Index", DType.INT32);
    b.op("Slice", "y2", "x", "b1", "s2").attr("T", DType.FLOAT).attr("Index", DType.INT32);
    b.op("Slice", "y3", "x", "bg", "s1").attr("T", DType.FLOAT).attr("Index", DType.INT32);
    b.op("Slice", "y4", "x", "bg64", "sz").attr("T", DType.FLOAT).attr("Index", DType.INT64);
    b.op("Slice", "y5", "xs", "b4", "s4").attr("T", DType.INT64).attr("Index", DType.INT64);
    // tf.slice(x, [0, t, 0], [-1, 1, 4]): RETURNN-style packed begin with one run-time piece
    b.op("Pack", "bt", "zero", "t", "zero").attr("T", DType.INT32).attr("N", 3L).attr("axis", 0L);
    b.op("Pack", "st", "m1", "m1", "four").attr("T", DType.INT32).attr("N", 3L).attr("axis", 0L);
    b.op("Slice", "y6", "x", "bt", "st").attr("T", DType.FLOAT).attr("Index", DType.INT32);
    b.op("Slice", "y7", "x", "bg64", "s3").attr("T", DType.FLOAT).attr("Index", DType.INT64);
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(3, 4, 5, 6), "xs", OpParity.longs(4, -50, 50, 3, 4),
        "bg", Tensor.ofInts(s(3), 1, 0, 2), "bg64", Tensor.ofLongs(s(3), 2, 0, 1), "sz", Tensor.ofLongs(s(3), 2, -1, 3), "t", Tensor.ofInts(s(), 3));
    List<String> outs = List.of("y1", "y2", "y3", "y4", "y5", "y6", "y7");
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 13);
  }
}
