package returnn.onnx.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

class GraphHandlersParityTest {
  @Test
  void identityChainOnAPlaceholderKeepsExactNames() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("extern_data/placeholders/data/data", DType.FLOAT, -1, -1, 3);
    b.op("Identity", "a/b", "extern_data/placeholders/data/data").attr("T", DType.FLOAT);
    b.op("StopGradient", "output/output_batch_major", "a/b").attr("T", DType.FLOAT);
    OpParity.Result r = OpParity.check(b.build(),
        Map.of("extern_data/placeholders/data/data", OpParity.normal(1, 2, 4, 3)), "output/output_batch_major");
    assertEquals(1, r.count("Identity"), "one Identity names the output; the chain itself disappears");
  }

  @Test
  void identityNPassesEachInput() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2);
    b.placeholder("y", DType.INT32, 3);
    b.op("IdentityN", "n", "x", "y").attrTypes("T", java.util.List.of(DType.FLOAT, DType.INT32));
    b.op("Neg", "nx", "n:0").attr("T", DType.FLOAT);
    b.op("Neg", "ny", "n:1").attr("T", DType.INT32);
    OpParity.check(b.build(), Map.of("x", OpParity.normal(2, 2), "y", Tensor.ofInts(new long[] {3}, 1, -2, 3)), "nx", "ny");
  }

  @Test
  void placeholderWithDefaultTakesItsDefaultWhenNotFed() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 3);
    b.constant("flag_default", Tensor.ofBools(new long[0], false));
    b.op("PlaceholderWithDefault", "globals/train_flag", "flag_default").attr("dtype", DType.BOOL).attrShape("shape", new long[0]);
    b.op("SelectV2", "y", "globals/train_flag", "x", "x_neg").attr("T", DType.FLOAT);
    b.op("Neg", "x_neg", "x").attr("T", DType.FLOAT);
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(3, 2, 3)), "y");
    assertEquals(0, r.converted().graph().inputs().stream().filter(v -> v.name().equals("globals/train_flag")).count(),
        "the default becomes a constant, not an input");
  }

  /** TF's and ONNX Runtime's generators differ, so only the shape and the distribution can be compared. */
  @Test
  void randomUniformDrawsTheRightShapeAndRange() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 500);
    b.op("Shape", "s", "x").attr("T", DType.FLOAT).attr("out_type", DType.INT32);
    b.op("RandomUniform", "u", "s").attr("T", DType.INT32).attr("dtype", DType.FLOAT);
    b.op("Add", "y", "u", "x").attr("T", DType.FLOAT);
    Map<String, Tensor> feeds = Map.of("x", Tensor.ofFloats(new long[] {4, 500}, new float[2000]));
    Tensor u = OpParity.runOnnx(OpParity.convert(b.build(), java.util.List.of("y"), 17), feeds).get("y");
    org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {4, 500}, u.shape());
    double sum = 0;
    for (float v : u.toFloats()) {
      org.junit.jupiter.api.Assertions.assertTrue(v >= 0 && v < 1, "uniform in [0, 1): " + v);
      sum += v;
    }
    assertEquals(0.5, sum / 2000, 0.05);
  }
}
