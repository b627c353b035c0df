package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.TfOps;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/** Ops of third-party TF1 graphs: dilated and transposed convolutions, and dtypes ONNX Runtime has no kernel for. */
class Tf1OpsParityTest {
  private static long[] s(long... d) {
    return d;
  }

  /** SelectV2 of bool and int32 branches, broadcasting the condition. */
  @Test
  void selectV2WithBoolAndInt32Branches() {
    for (int opset : new int[] {13, 17}) {
      GraphDefBuilder b = new GraphDefBuilder();
      b.placeholder("c", DType.BOOL, 3, 1);
      b.placeholder("bx", DType.BOOL, 1, 4);
      b.placeholder("by", DType.BOOL, 3, 4);
      b.placeholder("ix", DType.INT32, 3, 4);
      b.constant("iy", Tensor.ofInts(new long[0], -7));
      b.op("SelectV2", "sb", "c", "bx", "by").attr("T", DType.BOOL);
      b.op("SelectV2", "si", "c", "ix", "iy").attr("T", DType.INT32);
      Map<String, Tensor> feeds = Map.of("c", Tensor.ofBools(s(3, 1), true, false, true), "bx", OpParity.bools(1, 1, 4),
          "by", OpParity.bools(2, 3, 4), "ix", OpParity.ints(3, -1_000_000_000, 1_000_000_000, 3, 4));
      OpParity.check(b.build(), feeds, List.of("sb", "si"), OpParity.TOL, opset);
    }
  }

  /** MaxPool of int32 (ONNX Runtime has float kernels only): through double, which holds every int32 exactly. */
  @Test
  void maxPoolOnInt32() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.INT32, -1, 5, 7, 2);
    b.op("MaxPool", "same", "x").attr("T", DType.INT32).attrInts("ksize", 1, 2, 3, 1).attrInts("strides", 1, 2, 2, 1)
        .attr("padding", "SAME").attr("data_format", "NHWC");
    b.op("MaxPool", "valid", "x").attr("T", DType.INT32).attrInts("ksize", 1, 3, 2, 1).attrInts("strides", 1, 1, 2, 1)
        .attr("padding", "VALID").attr("data_format", "NHWC");
    Map<String, Tensor> feeds = Map.of("x", OpParity.ints(4, -1_000_000_000, 1_000_000_000, 2, 5, 7, 2));
    OpParity.check(b.build(), feeds, List.of("same", "valid"), OpParity.TOL, 17);
  }

  /** TopKV2 with k fed at run time, only the values read: the TopK node keeps its indices output. */
  @Test
  void topKWithFedKAndOnlyValuesUsed() {
    for (int opset : new int[] {13, 17}) {
      GraphDefBuilder b = new GraphDefBuilder();
      b.placeholder("x", DType.FLOAT, -1, 6);
      b.placeholder("k", DType.INT32);
      b.op("TopKV2", "top", "x", "k").attr("T", DType.FLOAT);
      b.op("Neg", "y", "top").attr("T", DType.FLOAT);
      OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 3, 6), "k", Tensor.ofInts(s(), 4)),
          List.of("y"), OpParity.TOL, opset);
      assertEquals(1, r.count("TopK"));
    }
  }

  private static String intOp(GraphDefBuilder b, String op, String name, String x, String y) {
    return b.op(op, name, x, y).attr("T", DType.INT32).outType(DType.INT32).name();
  }

  /**
   * {@code tf.nn.convolution(x, f, "SAME", dilation_rate=[2])} on [B, T, F] with T dynamic, as TF1 builds it
   * ({@code with_space_to_batch}): paddings and crops computed from {@code tf.shape(x)} ({@code
   * required_space_to_batch_paddings}: base [[2, 2]], end padded up to a multiple of the rate), SpaceToBatchND, the
   * inner conv1d (ExpandDims, Conv2D VALID, Squeeze), BatchToSpaceND.
   */
  @Test
  void dilatedConv1dWithRunTimePaddings() {
    GraphDefBuilder b = new GraphDefBuilder();
    TfOps tf = new TfOps(b);
    String x = b.placeholder("x", DType.FLOAT, -1, -1, 3).name();
    String f = tf.constant("filter", OpParity.normal(1, 3, 3, 4));
    String t = tf.index(tf.shape(x), 1);
    String full = intOp(b, "AddV2", "full", t, tf.scalarInt("base_pads", 4));
    String rate = tf.scalarInt("rate", 2);
    String extra = intOp(b, "FloorMod", "extra", intOp(b, "Sub", "to_multiple", rate, intOp(b, "FloorMod", "rem", full, rate)), rate);
    String padEnd = intOp(b, "AddV2", "pad_end", tf.scalarInt("orig_pad_end", 2), extra);
    String paddings = tf.expandDims(tf.pack("paddings", List.of(2, padEnd)), 0);
    String crops = tf.expandDims(tf.pack("crops", List.of(0, extra)), 0);
    String s2b = b.op("SpaceToBatchND", "SpaceToBatchND", x, tf.constant("block_shape", Tensor.ofInts(s(1), 2)), paddings)
        .attr("T", DType.FLOAT).attr("Tblock_shape", DType.INT32).attr("Tpaddings", DType.INT32).outType(DType.FLOAT).name();
    String conv = b.op("Conv2D", "conv1d/Conv2D", tf.expandDims(s2b, 1), tf.expandDims(f, 0)).attr("T", DType.FLOAT)
        .attrInts("strides", 1, 1, 1, 1).attr("padding", "VALID").attr("data_format", "NHWC").outType(DType.FLOAT).name();
    String sq = b.op("Squeeze", "conv1d/Squeeze", conv).attr("T", DType.FLOAT).attrInts("squeeze_dims", 1)
        .outType(DType.FLOAT).name();
    b.op("BatchToSpaceND", "y", sq, tf.constant("block_shape_1", Tensor.ofInts(s(1), 2)), crops).attr("T", DType.FLOAT)
        .attr("Tblock_shape", DType.INT32).attr("Tcrops", DType.INT32).outType(DType.FLOAT);
    for (int time : new int[] {7, 8, 1}) {
      OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(time, 2, time, 3)), List.of("y"),
          OpParity.TOL, 17);
      assertEquals(time, r.tf().get("y").shape()[1]);
    }
  }

  /**
   * {@code tf.nn.convolution} of [B, 7, 6, 2] with rate 2 on both spatial dims, SAME, static sizes: TF computes the
   * paddings [[2, 3], [2, 2]] and crops [[0, 1], [0, 0]] as constants.
   */
  @Test
  void dilatedConv2dWithConstantPaddings() {
    for (int opset : new int[] {13, 17}) {
      GraphDefBuilder b = new GraphDefBuilder();
      TfOps tf = new TfOps(b);
      String x = b.placeholder("x", DType.FLOAT, -1, 7, 6, 2).name();
      String block = tf.constant("block_shape", Tensor.ofInts(s(2), 2, 2));
      String s2b = b.op("SpaceToBatchND", "SpaceToBatchND", x, block,
          tf.constant("paddings", Tensor.ofInts(s(2, 2), 2, 3, 2, 2))).attr("T", DType.FLOAT)
          .attr("Tblock_shape", DType.INT32).attr("Tpaddings", DType.INT32).outType(DType.FLOAT).name();
      String conv = b.op("Conv2D", "Conv2D", s2b, tf.constant("filter", OpParity.normal(2, 3, 3, 2, 4)))
          .attr("T", DType.FLOAT).attrInts("strides", 1, 1, 1, 1).attr("padding", "VALID").attr("data_format", "NHWC")
          .outType(DType.FLOAT).name();
      b.op("BatchToSpaceND", "y", conv, block, tf.constant("crops", Tensor.ofInts(s(2, 2), 0, 1, 0, 0)))
          .attr("T", DType.FLOAT).attr("Tblock_shape", DType.INT32).attr("Tcrops", DType.INT32).outType(DType.FLOAT);
      OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(3, 2, 7, 6, 2)), List.of("y"),
          OpParity.TOL, opset);
      assertEquals(List.of(2L, 7L, 6L, 4L), java.util.Arrays.stream(r.tf().get("y").shape()).boxed().toList());
    }
  }

  /**
   * {@code tf.nn.conv2d_transpose} (Conv2DBackpropInput) with the output shape built at run time from the batch size,
   * stride 2, SAME (7 and 8 from 4) and VALID (10 and 9 from 4: the last row and column get no tap, zeros).
   */
  @Test
  void transposedConv2d() {
    for (String padding : new String[] {"SAME", "VALID"}) {
      GraphDefBuilder b = new GraphDefBuilder();
      TfOps tf = new TfOps(b);
      String x = b.placeholder("x", DType.FLOAT, -1, 4, 4, 3).name();
      String batch = tf.index(tf.shape(x), 0);
      String sizes = padding.equals("SAME") ? tf.pack("output_shape", List.of(batch, 7, 8, 2))
          : tf.pack("output_shape", List.of(batch, 10, 9, 2));
      b.op("Conv2DBackpropInput", "y", sizes, tf.constant("filter", OpParity.normal(4, 3, 3, 2, 3)), x)
          .attr("T", DType.FLOAT).attrInts("strides", 1, 2, 2, 1).attr("padding", padding).attr("data_format", "NHWC")
          .outType(DType.FLOAT);
      OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(5, 2, 4, 4, 3)), List.of("y"),
          OpParity.TOL, 17);
      assertEquals(1, r.count("ConvTranspose"), padding);
    }
  }
}
