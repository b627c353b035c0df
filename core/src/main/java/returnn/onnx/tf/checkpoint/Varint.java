package returnn.onnx.tf.checkpoint;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import returnn.onnx.ConversionException;

/** LevelDB/TF base-128 varints, least significant group first (tensorflow/tsl/platform/coding.cc). */
final class Varint {
  private Varint() {}

  /** Reads a varint64 at the buffer's position; {@code what} names the structure for the error message. */
  static long read64(ByteBuffer b, Path file, String what) {
    long result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!b.hasRemaining()) throw malformed(b, file, what, "truncated");
      int x = b.get() & 0xff;
      result |= (long) (x & 0x7f) << shift;
      if (x < 0x80) return result;
    }
    throw malformed(b, file, what, "longer than 10 bytes");
  }

  /** Reads a varint that must be a non-negative int (lengths inside a block). */
  static int read32(ByteBuffer b, Path file, String what) {
    long v = read64(b, file, what);
    if (v < 0 || v > Integer.MAX_VALUE) throw malformed(b, file, what, "value " + Long.toUnsignedString(v) + " too large");
    return (int) v;
  }

  static void write64(ByteArrayOutputStream out, long v) {
    while ((v & ~0x7fL) != 0) {
      out.write((int) ((v & 0x7f) | 0x80));
      v >>>= 7;
    }
    out.write((int) v);
  }

  private static ConversionException malformed(ByteBuffer b, Path file, String what, String why) {
    return ConversionException.atFile(file, "malformed varint in " + what + " (" + why + ", at byte " + b.position() + ")");
  }
}
