package returnn.onnx.rewrite.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;
import returnn.onnx.ir.Tensor;

class QkvWeightsTest {
  @Test
  void headsOfQKAndVComeSideBySide() {
    // Two rows; per head [q, k, v_a, v_b] (dk = 1, dv = 2), heads 0 and 1 interleaved as RETURNN stores them.
    float[] w = {
        10, 20, 30, 31, 11, 21, 32, 33,
        110, 120, 130, 131, 111, 121, 132, 133};
    Tensor t = QkvWeights.deinterleave(Tensor.ofFloats(new long[] {2, 8}, w), 2, 1, 2);
    assertArrayEquals(new float[] {
        10, 11, 20, 21, 30, 31, 32, 33,
        110, 111, 120, 121, 130, 131, 132, 133}, t.toFloats());
    assertArrayEquals(new long[] {2, 8}, t.shape());
  }
}
