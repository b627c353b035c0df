package returnn.onnx.rewrite.lstm;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * ONNX LSTM weights from TF-layout weights. ONNX wants W [D,4H,I], R [D,4H,H], B [D,8H] with gate blocks in the
 * order i, o, f, c; TF kernels keep [I,4H] matrices (rows = inputs) with their own gate order. {@code blocks[g]}
 * names the source block of ONNX gate g. All results are lazy: checkpoint tensors are read when the model is
 * written.
 */
final class LstmWeights {
  /** RETURNN NativeLstm2 / LstmGenericBase / LstmLowMem: cell-in j, input i, forget f, output o. */
  static final int[] RETURNN_JIFO = {1, 3, 2, 0};
  /** TF BlockLSTM and LSTMBlockCell: i, cell-in, f, o. */
  static final int[] TF_ICFO = {0, 3, 2, 1};
  /** TF BlockLSTMV2: i, f, cell-in, o. */
  static final int[] TF_IFCO = {0, 3, 1, 2};

  private LstmWeights() {}

  /**
   * Rows {@code [rowStart, rowStart + rows)} of the [*, 4n] matrix {@code m}, transposed to [1, 4n, rows] with the
   * column blocks reordered into ONNX gate order.
   */
  static Tensor gateMatrix(Tensor m, int rowStart, int rows, int n, int[] blocks) {
    long[] s = m.shape();
    if (s.length != 2 || s[1] != 4L * n || rowStart + rows > s[0]) {
      throw new IllegalArgumentException("expected a [" + (rowStart + rows) + "+, " + 4 * n + "] matrix, got " + m);
    }
    int cols = (int) s[1];
    return Tensor.lazy(DType.FLOAT, new long[] {1, 4L * n, rows}, () -> {
      FloatBuffer src = floats(m);
      ByteBuffer out = Tensor.alloc(4L * 4 * n * rows);
      FloatBuffer dst = out.asFloatBuffer();
      for (int g = 0; g < 4; g++) {
        for (int r = 0; r < n; r++) {
          int col = blocks[g] * n + r;
          int base = (g * n + r) * rows;
          for (int k = 0; k < rows; k++) dst.put(base + k, src.get((rowStart + k) * cols + col));
        }
      }
      return out;
    });
  }

  /** A [1, 4n, 4n] matrix moving block {@code blocks[g]} of a projected input to ONNX gate g (0/1 entries: exact). */
  static Tensor gatePermutation(int n, int[] blocks) {
    return Tensor.lazy(DType.FLOAT, new long[] {1, 4L * n, 4L * n}, () -> {
      ByteBuffer out = Tensor.alloc(4L * 16 * n * n);
      for (int g = 0; g < 4; g++) {
        for (int r = 0; r < n; r++) out.putFloat(4 * ((g * n + r) * 4 * n + blocks[g] * n + r), 1f);
      }
      return out;
    });
  }

  /**
   * ONNX B [1, 8n]: the input bias {@code b} (or zeros) reordered, plus {@code forgetBias} on the forget gate kept
   * in the recurrence bias half, so the stored bias stays exactly the checkpoint's.
   */
  static Tensor bias(Tensor b, int n, int[] blocks, float forgetBias) {
    if (b != null && b.size() != 4L * n) throw new IllegalArgumentException("expected a [" + 4 * n + "] bias, got " + b);
    return Tensor.lazy(DType.FLOAT, new long[] {1, 8L * n}, () -> {
      ByteBuffer out = Tensor.alloc(4L * 8 * n);
      FloatBuffer dst = out.asFloatBuffer();
      if (b != null) {
        FloatBuffer src = floats(b);
        for (int g = 0; g < 4; g++) for (int r = 0; r < n; r++) dst.put(g * n + r, src.get(blocks[g] * n + r));
      }
      for (int r = 0; r < n; r++) dst.put(4 * n + 2 * n + r, forgetBias);
      return out;
    });
  }

  /** ONNX P [1, 3n] = [wci, wco, wcf] (TF's peephole vectors for the input, forget and output gates). */
  static Tensor peepholes(Tensor wci, Tensor wcf, Tensor wco, int n) {
    return Tensor.lazy(DType.FLOAT, new long[] {1, 3L * n}, () -> {
      ByteBuffer out = Tensor.alloc(4L * 3 * n);
      FloatBuffer dst = out.asFloatBuffer();
      Tensor[] parts = {wci, wco, wcf};
      for (int p = 0; p < 3; p++) {
        FloatBuffer src = floats(parts[p]);
        for (int r = 0; r < n; r++) dst.put(p * n + r, src.get(r));
      }
      return out;
    });
  }

  /** Forward and backward weights stacked on the direction axis: [1,...] + [1,...] → [2,...]. */
  static Tensor stackDirections(Tensor fw, Tensor bw) {
    long[] s = fw.shape();
    long[] t = bw.shape();
    if (!java.util.Arrays.equals(s, t) || s[0] != 1) throw new IllegalArgumentException("cannot stack " + fw + " and " + bw);
    long[] out = s.clone();
    out[0] = 2;
    return Tensor.lazy(DType.FLOAT, out, () -> {
      ByteBuffer b = Tensor.alloc(2 * fw.byteSize());
      b.put(fw.data()).put(bw.data()).flip();
      return b;
    });
  }

  private static FloatBuffer floats(Tensor t) {
    if (t.dtype() != DType.FLOAT) throw new IllegalArgumentException("LSTM weights must be float32, got " + t);
    return t.data().asFloatBuffer();
  }
}
