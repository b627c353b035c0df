package returnn.onnx.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class Int8MatrixTest {
  @Test
  void perTensorScaleMapsTheLargestMagnitudeToQmaxAndRoundsToNearest() {
    float[] w = {0.5f, -1.27f, 0.004f, 1.0f, 0.0f, -0.006f};
    Int8Matrix m = Int8Matrix.quantize(w, 2, 3, false, 127);
    assertArrayEquals(new float[] {0.01f}, m.scales(), 1e-9f);
    assertArrayEquals(new byte[] {50, -127, 0, 100, 0, -1}, m.values());
    for (int i = 0; i < w.length; i++) assertEquals(w[i], m.dequantized(i / 3, i % 3), 0.005 + 1e-7);
  }

  @Test
  void perColumnScalesFollowEachColumnAndAllZeroColumnsKeepScaleOne() {
    float[] w = {0.5f, 0.02f, 0f, -2f, -0.005f, 0f};
    Int8Matrix m = Int8Matrix.quantize(w, 2, 3, true, 127);
    assertArrayEquals(new float[] {2f / 127, 0.02f / 127, 1f}, m.scales(), 1e-9f);
    assertArrayEquals(new byte[] {32, 127, 0, -127, -32, 0}, m.values());
  }

  @Test
  void reducedRangeNeverExceedsSixtyFourAndErrorsStayWithinHalfAStep() {
    float[] w = QuantizeGraphs.random(9, 64 * 32, 1.0);
    Int8Matrix m = Int8Matrix.quantize(w, 64, 32, true, 64);
    for (int r = 0; r < 64; r++) {
      for (int c = 0; c < 32; c++) {
        assertTrue(Math.abs(m.values()[r * 32 + c]) <= 64);
        assertEquals(w[r * 32 + c], m.dequantized(r, c), m.scales()[c] / 2 + 1e-6);
      }
    }
  }
}
