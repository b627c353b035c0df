package returnn.onnx.verify.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.TfOps;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/** The norm and activation fusions, each on a small TF graph, run by TensorFlow and fused by ONNX Runtime. */
class NormFusionParityTest {
  private static String scalar(GraphDefBuilder b, String name, float v) {
    return b.constant(name, Tensor.scalarFloat(v)).name();
  }

  private static String op(GraphDefBuilder b, String type, String name, String... in) {
    return b.op(type, name, in).attr("T", DType.FLOAT).outType(DType.FLOAT).name();
  }

  @Test
  void layerNormMatchesTensorFlowAsOneLayerNormalization() {
    GraphDefBuilder b = new GraphDefBuilder();
    TfOps tf = new TfOps(b);
    String x = b.placeholder("x", DType.FLOAT, -1, -1, 8).name();
    String scale = b.constant("scale", OpParity.uniform(1, 0.5f, 1.5f, 8)).name();
    String bias = b.constant("bias", OpParity.normal(2, 8)).name();
    String mean = tf.mean("mean", x, true, -1);
    String variance = tf.mean("variance", tf.square(tf.sub(x, mean)), true, -1);
    String inv = tf.rsqrt(tf.add(variance, scalar(b, "eps", 1e-6f)));
    tf.identity("y", tf.add(tf.mul(tf.mul(tf.sub(x, mean), inv), scale), bias));
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(3, 2, 5, 8)), "y");
    assertEquals(1, r.count("LayerNormalization"));
    assertEquals(0, r.count("ReduceMean"));
  }

  /** tf.nn.gelu(x) (erf) and RETURNN's tanh-approximated gelu, at opsets before and after ONNX Gelu. */
  @Test
  void geluFormsMatchTensorFlow() {
    for (int opset : new int[] {17, 20}) {
      GraphDefBuilder b = new GraphDefBuilder();
      String x = b.placeholder("x", DType.FLOAT, -1, 6).name();
      String half = op(b, "Mul", "mul", scalar(b, "half", 0.5f), x);
      String erf = op(b, "Erf", "Erf", op(b, "RealDiv", "truediv", x, scalar(b, "root2", 1.4142135623730951f)));
      op(b, "Mul", "gelu", half, op(b, "AddV2", "add", scalar(b, "one", 1f), erf));
      String cube = op(b, "Pow", "Pow", x, scalar(b, "three", 3f));
      String inner = op(b, "AddV2", "add_1", x, op(b, "Mul", "mul_1", scalar(b, "c", 0.044715f), cube));
      String t = op(b, "Tanh", "Tanh", op(b, "Mul", "mul_2", scalar(b, "s", (float) Math.sqrt(2 / Math.PI)), inner));
      op(b, "Mul", "gelu_tanh", op(b, "Mul", "mul_3", scalar(b, "half_1", 0.5f), x),
          op(b, "AddV2", "add_2", scalar(b, "one_1", 1f), t));
      OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(4, 3, 6)), List.of("gelu", "gelu_tanh"),
          OpParity.TOL, opset);
      assertEquals(0, r.count("Erf") + r.count("Tanh"), "opset " + opset);
      if (opset >= 20) assertEquals(2, r.count("Gelu"));
      else assertEquals(2, r.count("com.microsoft.Gelu") + r.count("com.microsoft.FastGelu"));
    }
  }

  @Test
  void swishStaysTwoOps() {
    GraphDefBuilder b = new GraphDefBuilder();
    String x = b.placeholder("x", DType.FLOAT, -1, 4).name();
    String beta = scalar(b, "beta", 1f);
    String y = op(b, "Mul", "mul_1", x, op(b, "Sigmoid", "Sigmoid", op(b, "Mul", "mul", beta, x)));
    b.op("IdentityN", "IdentityN", y, x, beta).attr("T", typeList(3));
    b.op("Identity", "y", "IdentityN").attr("T", DType.FLOAT);
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(5, 3, 4)), "y");
    assertEquals(1, r.count("Mul"));
    assertEquals(1, r.count("Sigmoid"));
  }

  /**
   * RETURNN's batch_norm after a depthwise 1-D conv (ExpandDims, DepthwiseConv2dNative, Squeeze, bias) and after a
   * linear layer's MatMul: folded into their weights, no Mul/Add for the normalization left.
   */
  @Test
  void batchNormFoldsIntoDepthwiseConvAndMatMul() {
    GraphDefBuilder b = new GraphDefBuilder();
    TfOps tf = new TfOps(b);
    int c = 4;
    String x = b.placeholder("x", DType.FLOAT, -1, -1, c).name();
    String w = b.constant("dw/W", OpParity.normal(6, 5, 1, c, 1)).name();
    String conv = b.op("DepthwiseConv2dNative", "dw/depthwise", tf.expandDims(x, 2), w).attr("T", DType.FLOAT)
        .attrInts("strides", 1, 1, 1, 1).attr("padding", "SAME").attr("data_format", "NHWC").attrInts("dilations", 1, 1, 1, 1)
        .attrInts("explicit_paddings").outType(DType.FLOAT).name();
    String y = tf.add(b.op("Squeeze", "dw/Squeeze", conv).attr("T", DType.FLOAT).attrInts("squeeze_dims", 2)
        .outType(DType.FLOAT).name(), b.constant("dw/bias", OpParity.normal(7, c)).name());
    tf.identity("conv_bn", batchNorm(b, tf, "bn0", y, c));
    String flat = tf.reshape(x, -1, c);
    String mm = tf.matMul(flat, b.constant("lin/W", OpParity.normal(8, c, c)).name());
    tf.identity("linear_bn", batchNorm(b, tf, "bn1", mm, c));
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(9, 2, 7, c)), "conv_bn", "linear_bn");
    assertEquals(0, r.count("Mul"), "batch norm factors folded into the weights");
    assertEquals(2, r.count("Add"), "one bias add each, holding the batch norm shift");
  }

  /** FusedBatchNormV3 (inference) on x reshaped to [-1,1,1,c], reshaped back, as RETURNN's batch_norm. */
  private static String batchNorm(GraphDefBuilder b, TfOps tf, String name, String x, int c) {
    String shape = tf.shape(x);
    String flat = tf.reshape(x, -1, 1, 1, c);
    b.op("FusedBatchNormV3", name, flat, b.constant(name + "/gamma", OpParity.uniform(10, 0.5f, 2, c)).name(),
        b.constant(name + "/beta", OpParity.normal(11, c)).name(), b.constant(name + "/mean", OpParity.normal(12, c)).name(),
        b.constant(name + "/variance", OpParity.uniform(13, 0.5f, 2, c)).name()).attr("T", DType.FLOAT)
        .attr("U", DType.FLOAT).attr("epsilon", 1e-3f).attr("data_format", "NHWC").attr("is_training", false)
        .outType(DType.FLOAT);
    return b.op("Reshape", name + "_back", name, shape).attr("T", DType.FLOAT).attr("Tshape", DType.INT32)
        .outType(DType.FLOAT).name();
  }

  private static org.tensorflow.proto.AttrValue typeList(int n) {
    org.tensorflow.proto.AttrValue.ListValue.Builder l = org.tensorflow.proto.AttrValue.ListValue.newBuilder();
    for (int i = 0; i < n; i++) l.addType(org.tensorflow.proto.DataType.DT_FLOAT);
    return org.tensorflow.proto.AttrValue.newBuilder().setList(l).build();
  }
}
