package returnn.onnx.quantize;

import java.nio.ByteBuffer;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * A weight matrix [rows, cols] quantized symmetrically to int8: {@code w ≈ q · scale}, zero point 0, with one scale
 * for the whole matrix or one per column. Symmetric because ONNX Runtime's DynamicQuantizeLSTM rejects non-zero zero
 * points of int8 per-channel weights (dynamic_quantize_lstm.cc, ZeroPointCheck) and its int8 GEMMs skip the
 * zero-point correction when it is 0.
 */
record Int8Matrix(int rows, int cols, byte[] values, float[] scales, boolean perColumn) {
  /** Quantizes row-major {@code w} [rows, cols]; {@code perColumn} gives each column its own scale. */
  static Int8Matrix quantize(float[] w, int rows, int cols, boolean perColumn, int qmax) {
    if ((long) rows * cols != w.length) throw new IllegalArgumentException(w.length + " values are not " + rows + "x" + cols);
    float[] max = new float[perColumn ? cols : 1];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        int k = perColumn ? c : 0;
        max[k] = Math.max(max[k], Math.abs(w[r * cols + c]));
      }
    }
    float[] scales = new float[max.length];
    // An all-zero column keeps scale 1 (any scale represents it exactly; 0 would divide by zero).
    for (int k = 0; k < max.length; k++) scales[k] = max[k] > 0 ? max[k] / qmax : 1f;
    byte[] q = new byte[w.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        double v = Math.rint(w[r * cols + c] / scales[perColumn ? c : 0]);
        q[r * cols + c] = (byte) Math.max(-qmax, Math.min(qmax, v));
      }
    }
    return new Int8Matrix(rows, cols, q, scales, perColumn);
  }

  float dequantized(int r, int c) {
    return values[r * cols + c] * scales[perColumn ? c : 0];
  }

  /** The int8 values as a tensor of the given shape (rows·cols elements). */
  Tensor tensor(long[] shape) {
    return Tensor.of(DType.INT8, shape, ByteBuffer.wrap(values));
  }

  /** Bytes of the int8 values plus float scales and int8 zero points. */
  long byteSize() {
    return values.length + 5L * scales.length;
  }
}
