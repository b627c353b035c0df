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

class NnConvParityTest {
  private static GraphDefBuilder.Node conv(GraphDefBuilder b, String name, String x, String f, String padding, long s,
      long d) {
    return b.op("Conv2D", name, x, f).attr("T", DType.FLOAT).attrInts("strides", 1, s, s, 1)
        .attrInts("dilations", 1, d, d, 1).attr("padding", padding);
  }

  /** VALID/SAME with odd and even sizes, stride 2, even kernels (asymmetric SAME pads), on static shapes. */
  @Test
  void conv2dStaticPaddingsAndStrides() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("odd", DType.FLOAT, 2, 5, 7, 3);
    b.placeholder("even", DType.FLOAT, 2, 6, 8, 3);
    b.constant("f3", OpParity.normal(10, 3, 3, 3, 4));
    b.constant("f2", OpParity.normal(11, 2, 2, 3, 4));
    List<String> outs = new ArrayList<>();
    for (String x : List.of("odd", "even")) {
      for (String f : List.of("f3", "f2")) {
        for (String pad : List.of("VALID", "SAME")) {
          for (long s : new long[] {1, 2}) {
            String n = x + "_" + f + "_" + pad + "_s" + s;
            conv(b, n, x, f, pad, s, 1);
            outs.add(n);
          }
        }
      }
    }
    OpParity.Result r = OpParity.check(b.build(), Map.of("odd", OpParity.normal(1, 2, 5, 7, 3),
        "even", OpParity.normal(2, 2, 6, 8, 3)), outs, OpParity.TOL, 17);
    // even_f2_SAME_s2 pads nothing, so it is the same Conv as even_f2_VALID_s2 and the cleanup merges the two.
    assertEquals(outs.size() - 1, r.count("Conv"));
  }

  /** Dilated SAME: explicit pads on static sizes, a run-time Pad on dynamic ones (ORT rejects auto_pad there). */
  @Test
  void conv2dDilatedSameStaticAndDynamic() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("xs", DType.FLOAT, 2, 6, 7, 3);
    b.placeholder("xd", DType.FLOAT, -1, -1, -1, 3);
    b.constant("f", OpParity.normal(10, 3, 2, 3, 4));
    conv(b, "static_d2", "xs", "f", "SAME", 1, 2);
    conv(b, "dynamic_d2", "xd", "f", "SAME", 1, 2);
    conv(b, "static_d2_valid", "xs", "f", "VALID", 1, 2);
    conv(b, "dynamic_d2_valid", "xd", "f", "VALID", 1, 2);
    b.op("Conv2D", "dyn_aniso", "xd", "f").attr("T", DType.FLOAT).attrInts("strides", 1, 2, 1, 1)
        .attrInts("dilations", 1, 1, 3, 1).attr("padding", "SAME");
    Map<String, Tensor> feeds = Map.of("xs", OpParity.normal(1, 2, 6, 7, 3), "xd", OpParity.normal(2, 2, 5, 8, 3));
    OpParity.check(b.build(), feeds, List.of("static_d2", "dynamic_d2", "static_d2_valid", "dynamic_d2_valid",
        "dyn_aniso"), OpParity.TOL, 17);
    OpParity.check(b.build(), Map.of("xd", OpParity.normal(3, 1, 4, 3, 3)), List.of("dynamic_d2", "dyn_aniso"),
        OpParity.TOL, 13);
  }

  /** Dynamic spatial sizes without dilation use auto_pad SAME_UPPER (TF puts the odd pad at the end). */
  @Test
  void conv2dDynamicSameStride2AndRunTimeFilter() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, -1, -1, 2);
    b.placeholder("f", DType.FLOAT, 2, 3, 2, 3);
    b.constant("fc", OpParity.normal(10, 4, 4, 2, 3));
    conv(b, "same_s2", "x", "fc", "SAME", 2, 1);
    conv(b, "same_s1_even_kernel", "x", "fc", "SAME", 1, 1);
    conv(b, "runtime_filter", "x", "f", "SAME", 2, 1);
    List<String> outs = List.of("same_s2", "same_s1_even_kernel", "runtime_filter");
    for (long[] shape : new long[][] {{1, 7, 5, 2}, {3, 6, 4, 2}}) {
      OpParity.check(b.build(), Map.of("x", OpParity.normal(1, shape), "f", OpParity.normal(2, 2, 3, 2, 3)), outs,
          OpParity.TOL, 17);
    }
  }

  @Test
  void conv2dExplicitPaddingAndChainedTransposesCancel() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 5, 6, 3);
    b.constant("f1", OpParity.normal(10, 3, 3, 3, 4));
    b.constant("f2", OpParity.normal(11, 2, 2, 4, 2));
    b.op("Conv2D", "c1", "x", "f1").attr("T", DType.FLOAT).attrInts("strides", 1, 1, 2, 1).attr("padding", "EXPLICIT")
        .attrInts("explicit_paddings", 0, 0, 1, 2, 0, 3, 0, 0);
    conv(b, "c2", "c1", "f2", "SAME", 1, 1);
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 5, 6, 3)), "c1", "c2");
    assertEquals(2, r.count("Conv"));
    assertEquals(3, r.count("Transpose"), "one into NCHW, two back out (c1 is also an output); none between");
  }

  @Test
  void depthwiseConvWithChannelMultiplier2() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 5, 6, 3);
    b.placeholder("xd", DType.FLOAT, -1, -1, -1, 3);
    b.constant("f", OpParity.normal(10, 3, 2, 3, 2));
    List<String> outs = new ArrayList<>();
    for (String x : List.of("x", "xd")) {
      for (String pad : List.of("VALID", "SAME")) {
        for (long s : new long[] {1, 2}) {
          String n = "dw_" + x + "_" + pad + "_s" + s;
          b.op("DepthwiseConv2dNative", n, x, "f").attr("T", DType.FLOAT).attrInts("strides", 1, s, s, 1)
              .attr("padding", pad);
          outs.add(n);
        }
      }
    }
    // TF's CPU kernel rejects dilations for depthwise convolution, so there is no reference to compare with.
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 5, 6, 3),
        "xd", OpParity.normal(2, 2, 5, 6, 3)), outs, OpParity.TOL, 17);
    assertEquals(outs.size(), r.count("Conv"));
  }

  /** All-negative inputs: a SAME max-pool window that saw a zero pad would return 0 instead of the true max. */
  @Test
  void poolsWithSamePaddingExcludeThePads() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 5, 7, 3);
    b.placeholder("xd", DType.FLOAT, -1, -1, -1, 3);
    b.constant("ksize", Tensor.ofInts(new long[] {4}, 1, 3, 2, 1));
    b.constant("strides", Tensor.ofInts(new long[] {4}, 1, 2, 2, 1));
    List<String> outs = new ArrayList<>();
    for (String x : List.of("x", "xd")) {
      for (String op : List.of("MaxPool", "AvgPool")) {
        for (String pad : List.of("SAME", "VALID")) {
          for (long[] ks : new long[][] {{3, 3, 2, 2}, {2, 3, 1, 2}, {3, 2, 3, 1}}) {
            String n = op + "_" + x + "_" + pad + "_" + ks[0] + ks[1] + ks[2] + ks[3];
            b.op(op, n, x).attr("T", DType.FLOAT).attrInts("ksize", 1, ks[0], ks[1], 1)
                .attrInts("strides", 1, ks[2], ks[3], 1).attr("padding", pad);
            outs.add(n);
          }
        }
      }
      b.op("MaxPoolV2", "v2_" + x, x, "ksize", "strides").attr("T", DType.FLOAT).attr("padding", "SAME");
      outs.add("v2_" + x);
    }
    Map<String, Tensor> feeds = Map.of("x", OpParity.uniform(1, -5, -1, 2, 5, 7, 3),
        "xd", OpParity.uniform(2, -5, -1, 1, 6, 5, 3));
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 13);
  }
}
