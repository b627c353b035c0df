package returnn.onnx.rewrite.attention;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * RETURNN's one {@code QKV} matrix [n_in, H·(2dk+dv)] has its columns interleaved per head: q, k, v of head 0, then
 * head 1, ... (it reshapes the product to [B,T,H,2dk+dv] and splits the last axis). MultiHeadAttention wants the
 * heads of each of q, k, v side by side: [Wq | Wk | Wv] with Wq = [q of head 0, q of head 1, ...].
 */
final class QkvWeights {
  private QkvWeights() {}

  /** The de-interleaved matrix [n_in, H·dk | H·dk | H·dv], computed lazily (weights are not copied until written). */
  static Tensor deinterleave(Tensor w, int heads, int dk, int dv) {
    int perHead = 2 * dk + dv;
    int cols = heads * perHead;
    if (w.rank() != 2 || w.shape()[1] != cols || w.dtype() != DType.FLOAT) {
      throw new IllegalArgumentException("QKV weight " + w.dtype() + java.util.Arrays.toString(w.shape())
          + " is not float [n_in, " + cols + "]");
    }
    int rows = (int) w.shape()[0];
    return Tensor.lazy(DType.FLOAT, w.shape(), () -> {
      FloatBuffer src = w.data().asFloatBuffer();
      ByteBuffer out = Tensor.alloc((long) rows * cols * 4);
      FloatBuffer dst = out.asFloatBuffer();
      for (int r = 0; r < rows; r++) {
        int base = r * cols;
        for (int h = 0; h < heads; h++) {
          for (int j = 0; j < perHead; j++) {
            int to;
            if (j < dk) to = h * dk + j;
            else if (j < 2 * dk) to = heads * dk + h * dk + (j - dk);
            else to = 2 * heads * dk + h * dv + (j - 2 * dk);
            dst.put(base + to, src.get(base + h * perHead + j));
          }
        }
      }
      return out;
    });
  }
}
