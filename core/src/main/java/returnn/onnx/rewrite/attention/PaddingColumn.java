package returnn.onnx.rewrite.attention;

import java.util.List;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/**
 * Key padding as one more term of q·k: every head of q gets a column of ones, every head of k a column that is 0
 * for keys within the length and -1e30 past it, so padded keys score about -1e29 and get softmax weight exactly 0.
 * Adding 0 leaves the other scores bit for bit unchanged.
 *
 * <p>Why not MultiHeadAttention's {@code key_padding_mask}: ONNX Runtime's CPU kernel then expands the mask to
 * [B,S,T] and adds it element by element for every head, and without any mask or bias it takes its flash-attention
 * path (contrib_ops/cpu/bert/multihead_attention.cc). Measured on one layer (B=8, T=1000, 4 heads of 64, one
 * thread): attention with key_padding_mask 193-221 ms, with the padding column 127-151 ms; with a relative-position
 * bias too, 204-241 ms against 168-202 ms.
 */
final class PaddingColumn {
  /** The padded keys' column; times the softmax scale it stays far below any real score, and finite. */
  static final float MASKED = -1e30f;

  private PaddingColumn() {}

  /** [q', k'] of shape [B,T,H·(d+1)] from q, k [B,T,H·d] and the key lengths [B] (int32). */
  static List<Value> augment(OnnxBuilder b, Value q, Value k, Value lengths, int heads, int d) {
    Value zero = b.constLongs(0, 0, 0, 0, 0, 0, 0, 1);
    Value qHeads = b.reshape(q, b.constLongs(0, 0, heads, d));
    Value qAug = b.op("Pad", List.of(qHeads, zero, b.scalar(DType.FLOAT, 1)), Attrs.of("mode", "constant"));
    Value kHeads = b.reshape(k, b.constLongs(0, 0, heads, d));
    Value kPadded = b.op("Pad", List.of(kHeads, zero, b.scalar(DType.FLOAT, 0)), Attrs.of("mode", "constant"));
    Value keys = b.squeeze(b.slice(b.shapeOf(k), new long[] {1}, new long[] {2}, new long[] {0}, null), 0);
    Value positions = b.op("Range", b.scalarLong(0), keys, b.scalarLong(1));
    Value valid = b.op("Less", b.unsqueeze(positions, 0), b.unsqueeze(b.cast(lengths, DType.INT64), 1));
    Value column = b.op("Where", valid, b.scalar(DType.FLOAT, 0), b.scalar(DType.FLOAT, MASKED));
    float[] last = new float[d + 1];
    last[d] = 1;
    Value onlyLast = b.op("Mul", b.unsqueeze(column, 2, 3), b.constant(Tensor.ofFloats(new long[] {d + 1}, last)));
    Value kAug = b.op("Add", kPadded, onlyLast);
    Value flat = b.constLongs(0, 0, (long) heads * (d + 1));
    return List.of(b.reshape(qAug, flat), b.reshape(kAug, flat));
  }
}
