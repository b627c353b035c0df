package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/**
 * TF1 contrib {@code GRUBlockCell} as one op outside a loop: all four outputs {@code (r, u, c, h)} equal to TF at
 * opsets 13 and 18 (Split with {@code num_outputs}), fed weights so nothing is constant-folded.
 */
class GruBlockCellParityTest {
  @Test
  void allOutputsMatchTensorFlow() {
    int in = 3;
    int n = 4;
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, in);
    b.placeholder("h", DType.FLOAT, -1, n);
    b.placeholder("w_ru", DType.FLOAT, in + n, 2 * n);
    b.placeholder("w_c", DType.FLOAT, in + n, n);
    b.placeholder("b_ru", DType.FLOAT, 2 * n);
    b.placeholder("b_c", DType.FLOAT, n);
    GraphDefBuilder.Node g = b.op("GRUBlockCell", "gru", "x", "h", "w_ru", "w_c", "b_ru", "b_c").attr("T", DType.FLOAT);
    for (int k = 0; k < 4; k++) g.outType(k, DType.FLOAT);
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(1, 5, in), "h", OpParity.uniform(2, -1f, 1f, 5, n),
        "w_ru", OpParity.normal(3, in + n, 2 * n), "w_c", OpParity.normal(4, in + n, n),
        "b_ru", OpParity.normal(5, 2 * n), "b_c", OpParity.normal(6, n));
    for (int opset : new int[] {13, 18}) {
      OpParity.Result r = OpParity.check(b.build(), feeds, List.of("gru", "gru:1", "gru:2", "gru:3"), OpParity.TOL, opset);
      assertEquals(0, r.count("Loop"));
      assertFalse(java.util.Arrays.equals(r.tf().get("gru:3").toFloats(), feeds.get("h").toFloats()), "h moves");
    }
  }
}
