package returnn.onnx.runtime;

import java.nio.ByteBuffer;
import java.util.List;
import returnn.onnx.ir.Tensor;

/**
 * Cutting batch-major tensors [B,T,...] (RETURNN's {@code output_batch_major} layout, and its inputs) into chunks of
 * frames, joining chunk outputs back, and each sequence's length within a chunk.
 */
public final class TimeChunks {
  private TimeChunks() {}

  /** Frames [t0, t1) of every sequence of a [B,T,...] tensor. */
  public static Tensor slice(Tensor t, int t0, int t1) {
    long[] s = t.shape();
    if (s.length < 2) throw new IllegalArgumentException("a batch-major [B,T,...] tensor is needed, not " + java.util.Arrays.toString(s));
    if (t0 < 0 || t1 < t0 || t1 > s[1]) throw new IllegalArgumentException("frames [" + t0 + ", " + t1 + ") of " + s[1]);
    int batch = (int) s[0], time = (int) s[1];
    int frame = (int) (Tensor.count(s) / Math.max(1, (long) batch * time)) * t.dtype().size;
    ByteBuffer src = t.data();
    ByteBuffer dst = Tensor.alloc((long) batch * (t1 - t0) * frame);
    byte[] row = new byte[(t1 - t0) * frame];
    for (int b = 0; b < batch; b++) {
      src.get((b * time + t0) * frame, row);
      dst.put(row);
    }
    dst.flip();
    s[1] = t1 - t0;
    return Tensor.of(t.dtype(), s, dst);
  }

  /** [B,T_i,...] chunks joined along time into [B,ΣT_i,...]. */
  public static Tensor concat(List<Tensor> chunks) {
    long[] s = chunks.get(0).shape();
    int batch = (int) s[0];
    long time = 0;
    long total = 0;
    for (Tensor c : chunks) {
      long[] cs = c.shape();
      if (cs.length != s.length || cs[0] != s[0] || c.dtype() != chunks.get(0).dtype()) {
        throw new IllegalArgumentException("chunk " + java.util.Arrays.toString(cs) + " does not join " + java.util.Arrays.toString(s));
      }
      time += cs[1];
      total += c.byteSize();
    }
    ByteBuffer dst = Tensor.alloc(total);
    for (int b = 0; b < batch; b++) {
      for (Tensor c : chunks) {
        byte[] row = new byte[(int) (c.byteSize() / batch)];
        c.data().get(b * row.length, row);
        dst.put(row);
      }
    }
    dst.flip();
    s[1] = time;
    return Tensor.of(chunks.get(0).dtype(), s, dst);
  }

  /** Each sequence's length within frames [t0, t1), as int32 [B] ({@code K_dim0_size} of the chunk). */
  public static Tensor lengths(int[] lengths, int t0, int t1) {
    int[] l = new int[lengths.length];
    for (int b = 0; b < l.length; b++) l[b] = Math.max(0, Math.min(lengths[b], t1) - t0);
    return Tensor.ofInts(new long[] {l.length}, l);
  }
}
