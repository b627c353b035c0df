package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.ConversionException;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/** Shape, ShapeN, Size, Rank, Reshape, ExpandDims, Squeeze, Transpose against TensorFlow. */
class ArrayShapeParityTest {
  private static long[] s(long... d) {
    return d;
  }

  @Test
  void shapeSizeRankWithBothOutTypes() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3, -1);
    b.placeholder("st", DType.INT32, 2, 3);
    b.placeholder("u", DType.FLOAT, (long[]) null);
    b.placeholder("x2", DType.FLOAT, 2, -1);
    b.op("Shape", "sh32", "x").attr("T", DType.FLOAT).attr("out_type", DType.INT32);
    b.op("Shape", "sh64", "x").attr("T", DType.FLOAT).attr("out_type", DType.INT64);
    b.op("Shape", "shs", "st").attr("T", DType.INT32).attr("out_type", DType.INT32);
    b.op("Shape", "shu", "u").attr("T", DType.FLOAT).attr("out_type", DType.INT64);
    b.op("ShapeN", "shn", "x", "x2").attr("T", DType.FLOAT).attr("N", 2L).attr("out_type", DType.INT64);
    b.op("ShapeN", "shn32", "x2", "u").attr("T", DType.FLOAT).attr("N", 2L).attr("out_type", DType.INT32);
    b.op("Size", "sz32", "x").attr("T", DType.FLOAT).attr("out_type", DType.INT32);
    b.op("Size", "sz64", "x").attr("T", DType.FLOAT).attr("out_type", DType.INT64);
    b.op("Size", "szs", "st").attr("T", DType.INT32).attr("out_type", DType.INT64);
    b.op("Rank", "rk", "x").attr("T", DType.FLOAT);
    b.op("Rank", "rku", "u").attr("T", DType.FLOAT);
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(1, 2, 3, 4), "st", OpParity.ints(2, 0, 5, 2, 3),
        "u", OpParity.normal(3, 1, 2, 1, 2), "x2", OpParity.normal(4, 2, 5));
    OpParity.check(b.build(), feeds, List.of("sh32", "sh64", "shs", "shu", "shn:0", "shn:1", "shn32:0", "shn32:1",
        "sz32", "sz64", "szs", "rk", "rku"), OpParity.TOL, 17);
  }

  @Test
  void reshapeConstantTargetsInt32AndInt64WithMinusOne() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, -1, 6);
    b.placeholder("xs", DType.INT64, 2, 3, 4);
    b.placeholder("one", DType.FLOAT, 1, 1);
    b.constant("t1", Tensor.ofInts(s(2), -1, 6));
    b.constant("t2", Tensor.ofLongs(s(3), 2, -1, 3));
    b.constant("t3", Tensor.ofInts(s(2), 4, 6));
    b.constant("t4", Tensor.ofLongs(s(3), 2, 3, 4));
    b.constant("t5", Tensor.ofInts(s(0)));
    b.op("Reshape", "r1", "x", "t1").attr("T", DType.FLOAT).attr("Tshape", DType.INT32);
    b.op("Reshape", "r2", "x", "t2").attr("T", DType.FLOAT).attr("Tshape", DType.INT64);
    b.op("Reshape", "r3", "xs", "t3").attr("T", DType.INT64).attr("Tshape", DType.INT32);
    b.op("Reshape", "r4", "xs", "t4").attr("T", DType.INT64).attr("Tshape", DType.INT64);
    b.op("Reshape", "r5", "one", "t5").attr("T", DType.FLOAT).attr("Tshape", DType.INT32);
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(1, 2, 2, 6), "xs", OpParity.longs(2, -9, 9, 2, 3, 4),
        "one", OpParity.normal(3, 1, 1));
    OpParity.Result r = OpParity.check(b.build(), feeds, List.of("r1", "r2", "r3", "r4", "r5"), OpParity.TOL, 17);
    assertEquals(4, r.count("Reshape"), "reshaping xs to its own static shape is no node");
  }

  /**
   * TF reads 0 as a 0-sized dim; ONNX copies the input dim unless allowzero=1 (opset 14). Opset 13 has no allowzero:
   * the 0s are expanded from 1s instead. A -1 beside zeros is inferred from the non-zero dims only.
   */
  @Test
  void reshapeZeroInTargetAtOpsets13To23() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 0, 3);
    b.placeholder("xd", DType.FLOAT, -1, -1, 3);
    b.constant("z1", Tensor.ofInts(s(2), 0, 4)); //         [2,0,3] → [0,4]: ONNX's copy would make it [2,4]
    b.constant("z2", Tensor.ofLongs(s(4), 3, 0, -1, 2)); // TF infers -1 = 6/6 = 1
    b.constant("z3", Tensor.ofInts(s(3), 0, -1, 3)); //     xd fed [2,0,3]: -1 = (2*3)/3 = 2
    b.constant("z4", Tensor.ofInts(s(3), 5, 0, 0));
    b.op("Reshape", "r1", "x", "z1").attr("T", DType.FLOAT).attr("Tshape", DType.INT32);
    b.op("Reshape", "r2", "x", "z2").attr("T", DType.FLOAT).attr("Tshape", DType.INT64);
    b.op("Reshape", "r3", "xd", "z3").attr("T", DType.FLOAT).attr("Tshape", DType.INT32);
    b.op("Reshape", "r4", "xd", "z4").attr("T", DType.FLOAT).attr("Tshape", DType.INT32);
    Map<String, Tensor> feeds = Map.of("x", Tensor.ofFloats(s(2, 0, 3)), "xd", Tensor.ofFloats(s(2, 0, 3)));
    for (int opset : new int[] {13, 14, 17, 23}) {
      OpParity.check(b.build(), feeds, List.of("r1", "r2", "r3", "r4"), OpParity.TOL, opset);
    }
  }

  /** A run-time target holding a 0: allowzero=1 from opset 14. */
  @Test
  void reshapeRunTimeTargetWithZero() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 4);
    b.placeholder("t", DType.INT32, 3);
    b.op("Reshape", "r", "x", "t").attr("T", DType.FLOAT).attr("Tshape", DType.INT32);
    for (int opset : new int[] {14, 23}) {
      OpParity.check(b.build(), Map.of("x", Tensor.ofFloats(s(0, 4)), "t", Tensor.ofInts(s(3), 2, 0, 5)), List.of("r"),
          OpParity.TOL, opset);
      OpParity.check(b.build(), Map.of("x", OpParity.normal(4, 3, 4), "t", Tensor.ofInts(s(3), 2, -1, 3)), List.of("r"),
          OpParity.TOL, opset);
    }
    OpParity.check(b.build(), Map.of("x", OpParity.normal(4, 3, 4), "t", Tensor.ofInts(s(3), 2, 3, 2)), List.of("r"),
        OpParity.TOL, 13);
  }

  /**
   * RETURNN's pattern: {@code tf.shape(x)[i]} pieces packed into a target. Pieces that are x's own dims at the same
   * position become 0 (copy) and one remaining run-time piece becomes -1, so the targets are constants.
   */
  @Test
  void reshapeToPackedShapePiecesFoldsToConstantTargets() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, -1, 6);
    b.placeholder("y", DType.FLOAT, -1, 6);
    b.op("Shape", "sx", "x").attr("T", DType.FLOAT).attr("out_type", DType.INT32);
    b.op("Shape", "sy", "y").attr("T", DType.FLOAT).attr("out_type", DType.INT32);
    b.constant("i0", Tensor.ofInts(s(1), 0));
    b.constant("i1", Tensor.ofInts(s(1), 1));
    b.constant("i2", Tensor.ofInts(s(1), 2));
    b.constant("i3", Tensor.ofInts(s(1), 3));
    b.constant("c2", Tensor.ofInts(s(), 2));
    b.constant("c3", Tensor.ofInts(s(), 3));
    b.constant("m1", Tensor.ofInts(s(), -1));
    b.constant("c6", Tensor.ofInts(s(), 6));
    for (String[] d : new String[][] {{"bx", "sx", "i0", "i1"}, {"tx", "sx", "i1", "i2"}, {"fx", "sx", "i2", "i3"},
        {"by", "sy", "i0", "i1"}}) {
      b.op("StridedSlice", d[0], d[1], d[2], d[3], "i1").attr("T", DType.INT32).attr("Index", DType.INT32)
          .attr("shrink_axis_mask", 1L);
    }
    b.op("Pack", "p1", "bx", "tx", "c2", "c3").attr("T", DType.INT32).attr("N", 4L).attr("axis", 0L);
    b.op("Reshape", "r1", "x", "p1").attr("T", DType.FLOAT).attr("Tshape", DType.INT32); // [B,T,2,3]
    b.op("Pack", "p2", "bx", "m1").attr("T", DType.INT32).attr("N", 2L).attr("axis", 0L);
    b.op("Reshape", "r2", "x", "p2").attr("T", DType.FLOAT).attr("Tshape", DType.INT32); // [B,T*6]
    b.op("Pack", "p3", "by", "c6").attr("T", DType.INT32).attr("N", 2L).attr("axis", 0L);
    b.op("Reshape", "r3", "x", "p3").attr("T", DType.FLOAT).attr("Tshape", DType.INT32); // x as [B*T, 6] = y's shape
    b.op("Pack", "p4", "fx", "by", "m1").attr("T", DType.INT32).attr("N", 3L).attr("axis", 0L);
    b.op("Reshape", "r4", "x", "p4").attr("T", DType.FLOAT).attr("Tshape", DType.INT32); // static piece + run-time
    b.op("Pack", "p5", "by", "c6").attr("T", DType.INT32).attr("N", 2L).attr("axis", 0L);
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(1, 2, 3, 6), "y", OpParity.normal(2, 6, 6));
    List<String> outs = List.of("r1", "r2", "r3", "fx", "p5");
    OpParity.Result r = OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
    assertEquals(3, r.count("Reshape"));
    assertEquals(1, r.count("Concat"), "only p5 (an output) is packed at run time; the three targets are constants");
    assertEquals(1, r.count("Shape"), "only p5 (an output) reads a run-time shape");
    assertTrue(r.tf().get("fx").dtype() == DType.INT32);
    OpParity.Result r4 = OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 3, 6), "y", OpParity.normal(2, 2, 6)),
        List.of("r4"), OpParity.TOL, 13);
    assertEquals(1, r4.count("Reshape"));
  }

  /** Merge/split of trailing dims: ConcatV2 of {@code tf.shape(x)[:-2]} (or a Slice of it) and constants. */
  @Test
  void reshapeToConcatOfShapeSlicesFoldsToConstantTargets() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, -1, 2, 3);
    b.op("Shape", "sx", "x").attr("T", DType.FLOAT).attr("out_type", DType.INT32);
    b.constant("b0", Tensor.ofInts(s(1), 0));
    b.constant("em2", Tensor.ofInts(s(1), -2));
    b.constant("em1", Tensor.ofInts(s(1), -1));
    b.constant("st", Tensor.ofInts(s(1), 1));
    b.constant("sz3", Tensor.ofInts(s(1), 3));
    b.constant("m1", Tensor.ofInts(s(1), -1));
    b.constant("split", Tensor.ofInts(s(2), 3, 1));
    b.constant("ax0", Tensor.ofInts(s(), 0));
    b.op("StridedSlice", "head2", "sx", "b0", "em2", "st").attr("T", DType.INT32).attr("Index", DType.INT32)
        .attr("begin_mask", 1L);
    b.op("ConcatV2", "merged", "head2", "m1", "ax0").attr("T", DType.INT32).attr("N", 2L).attr("Tidx", DType.INT32);
    b.op("Reshape", "r1", "x", "merged").attr("T", DType.FLOAT).attr("Tshape", DType.INT32); // [B, T, 6]
    b.op("Slice", "head3", "sx", "b0", "sz3").attr("T", DType.INT32).attr("Index", DType.INT32);
    b.op("ConcatV2", "splitd", "head3", "split", "ax0").attr("T", DType.INT32).attr("N", 2L).attr("Tidx", DType.INT32);
    b.op("Reshape", "r2", "x", "splitd").attr("T", DType.FLOAT).attr("Tshape", DType.INT32); // [B, T, 2, 3, 1]
    b.op("StridedSlice", "last", "sx", "em1", "b0", "st").attr("T", DType.INT32).attr("Index", DType.INT32)
        .attr("shrink_axis_mask", 1L);
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 4, 2, 3)),
        List.of("r1", "r2", "last"), OpParity.TOL, 17);
    assertEquals(0, r.count("Shape") + r.count("Concat"), "targets and the static last dim are constants");
  }

  @Test
  void expandDimsWithNegativeAndRunTimeAxes() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3);
    b.placeholder("ax", DType.INT32);
    b.constant("a0", Tensor.ofInts(s(), 0));
    b.constant("a1", Tensor.ofLongs(s(), 2));
    b.constant("am1", Tensor.ofInts(s(), -1));
    b.constant("am3", Tensor.ofLongs(s(1), -3));
    String[][] cases = {{"e0", "a0", "INT32"}, {"e1", "a1", "INT64"}, {"em1", "am1", "INT32"}, {"em3", "am3", "INT64"},
        {"ed", "ax", "INT32"}};
    for (String[] c : cases) b.op("ExpandDims", c[0], "x", c[1]).attr("T", DType.FLOAT).attr("Tdim", DType.valueOf(c[2]));
    for (int axis : new int[] {1, -2}) {
      OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 3), "ax", Tensor.ofInts(s(), axis)),
          List.of("e0", "e1", "em1", "em3", "ed"), OpParity.TOL, axis == 1 ? 13 : 23);
    }
  }

  @Test
  void squeezeExplicitNegativeAndAllOnes() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 1, 3, 1);
    b.placeholder("xd", DType.FLOAT, -1, 3, 1);
    b.placeholder("xi", DType.INT32, 1, -1);
    b.op("Squeeze", "q1", "x").attr("T", DType.FLOAT).attrInts("squeeze_dims");
    b.op("Squeeze", "q2", "x").attr("T", DType.FLOAT).attrInts("squeeze_dims", -1);
    b.op("Squeeze", "q3", "x").attr("T", DType.FLOAT).attrInts("squeeze_dims", 0, 2);
    b.op("Squeeze", "q4", "xd").attr("T", DType.FLOAT).attrInts("squeeze_dims"); // dim 0 is 1 only at run time
    b.op("Squeeze", "q5", "xd").attr("T", DType.FLOAT).attrInts("squeeze_dims", -1);
    b.op("Squeeze", "q6", "xi").attr("T", DType.INT32).attrInts("squeeze_dims", -2);
    OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 1, 3, 1), "xd", OpParity.normal(2, 1, 3, 1),
        "xi", OpParity.ints(3, -5, 5, 1, 4)), "q1", "q2", "q3", "q4", "q5", "q6");
    OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 1, 3, 1), "xd", OpParity.normal(2, 2, 3, 1),
        "xi", OpParity.ints(3, -5, 5, 1, 1)), "q4", "q6");
  }

  @Test
  void transposeWithConstantPermAndRunTimePermError() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3, 4);
    b.placeholder("pd", DType.INT32, 3);
    b.constant("p1", Tensor.ofInts(s(3), 2, 0, 1));
    b.constant("p2", Tensor.ofLongs(s(3), 0, 2, 1));
    b.constant("p3", Tensor.ofInts(s(3), 0, 1, 2));
    b.op("Transpose", "t1", "x", "p1").attr("T", DType.FLOAT).attr("Tperm", DType.INT32);
    b.op("Transpose", "t2", "x", "p2").attr("T", DType.FLOAT).attr("Tperm", DType.INT64);
    b.op("Transpose", "t3", "x", "p3").attr("T", DType.FLOAT).attr("Tperm", DType.INT32);
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 3, 4)), "t1", "t2", "t3");
    assertEquals(2, r.count("Transpose"), "the identity permutation is no node");
    b.op("Transpose", "td", "x", "pd").attr("T", DType.FLOAT).attr("Tperm", DType.INT32);
    ConversionException e = assertThrows(ConversionException.class, () -> OpParity.convert(b.build(), List.of("td"), 17));
    assertTrue(e.getMessage().contains("perm"), e.getMessage());
  }
}
