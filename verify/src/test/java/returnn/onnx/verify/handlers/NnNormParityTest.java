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

class NnNormParityTest {
  private static void stats(GraphDefBuilder b, long c) {
    b.constant("scale", OpParity.normal(10, c));
    b.constant("offset", OpParity.normal(11, c));
    b.constant("mean", OpParity.normal(12, c));
    b.constant("var", OpParity.uniform(13, 0.5f, 2f, c));
  }

  @Test
  void fusedBatchNormV3InferenceNhwcFoldsToMulAdd() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, -1, -1, 3);
    stats(b, 3);
    b.op("FusedBatchNormV3", "bn", "x", "scale", "offset", "mean", "var").attr("T", DType.FLOAT).attr("U", DType.FLOAT)
        .attr("epsilon", 0.001f).attr("is_training", false);
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 4, 5, 3)), "bn");
    assertEquals(1, r.count("Mul"));
    assertEquals(1, r.count("Add"));
    assertEquals(0, r.count("Transpose"));
  }

  @Test
  void fusedBatchNormVersionsAndNchw() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 3, 4, 3);
    b.placeholder("xc", DType.FLOAT, -1, 3, 4, 5);
    stats(b, 3);
    b.op("FusedBatchNorm", "v1", "x", "scale", "offset", "mean", "var").attr("T", DType.FLOAT).attr("is_training", false);
    b.op("FusedBatchNormV2", "v2", "x", "scale", "offset", "mean", "var").attr("T", DType.FLOAT).attr("U", DType.FLOAT)
        .attr("is_training", false).attr("epsilon", 0.1f);
    b.op("FusedBatchNormV3", "nchw", "xc", "scale", "offset", "mean", "var").attr("T", DType.FLOAT)
        .attr("U", DType.FLOAT).attr("is_training", false).attr("data_format", "NCHW");
    // Fetched through Identity: TF's grappler rewrites a FusedBatchNorm whose side outputs have no consumers.
    for (int i = 1; i <= 2; i++) b.op("Identity", "side" + i, "v2:" + i).attr("T", DType.FLOAT);
    OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 3, 4, 3), "xc", OpParity.normal(2, 2, 3, 4, 5)),
        List.of("v1", "v2", "nchw", "side1", "side2"), OpParity.TOL, 17);
  }

  @Test
  void fusedBatchNormWithRunTimeStatistics() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 5, 2);
    b.placeholder("x4", DType.FLOAT, -1, 1, 5, 2);
    b.placeholder("scale", DType.FLOAT, 2);
    b.placeholder("var", DType.FLOAT, 2);
    b.constant("offset", OpParity.normal(11, 2));
    b.constant("mean", OpParity.normal(12, 2));
    b.op("FusedBatchNormV3", "bn", "x4", "scale", "offset", "mean", "var").attr("T", DType.FLOAT).attr("U", DType.FLOAT)
        .attr("is_training", false);
    OpParity.check(b.build(), Map.of("x4", OpParity.normal(1, 3, 1, 5, 2), "scale", OpParity.normal(2, 2),
        "var", OpParity.uniform(3, 0.1f, 3, 2)), "bn");
  }

  /** is_training defaults to true in the op definition: an absent attr is training mode, not inference. */
  @Test
  void fusedBatchNormInTrainingModeIsAClearError() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 2, 2, 3);
    stats(b, 3);
    b.op("FusedBatchNormV3", "bn", "x", "scale", "offset", "mean", "var").attr("T", DType.FLOAT).attr("U", DType.FLOAT);
    ConversionException e = assertThrows(ConversionException.class, () -> OpParity.convert(b.build(), List.of("bn"), 17));
    assertTrue(e.getMessage().contains("is_training=true"), e.getMessage());
  }

  @Test
  void softmaxAndLogSoftmaxOnTheLastAxis() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, -1, 5);
    b.placeholder("m", DType.FLOAT, 3, 4);
    b.constant("inf", Tensor.ofFloats(new long[] {2, 3}, Float.NEGATIVE_INFINITY, 0, 1, 2, Float.NEGATIVE_INFINITY, 3));
    b.op("Softmax", "s3", "x").attr("T", DType.FLOAT);
    b.op("LogSoftmax", "l3", "x").attr("T", DType.FLOAT);
    b.op("Softmax", "s2", "m").attr("T", DType.FLOAT);
    b.op("LogSoftmax", "l2", "m").attr("T", DType.FLOAT);
    b.op("Softmax", "sinf", "inf").attr("T", DType.FLOAT);
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(1, 2, 3, 5), "m", OpParity.normal(2, 3, 4));
    List<String> outs = List.of("s3", "l3", "s2", "l2", "sinf");
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 13);
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 23);
  }
}
