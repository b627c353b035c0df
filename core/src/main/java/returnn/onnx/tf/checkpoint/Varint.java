package returnn.onnx.tf.checkpoint;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import returnn.onnx.ConversionException;

/**
 * LevelDB/TF base-128 varints, least significant group first (tensorflow/tsl/platform/coding.cc): the same encoding
 * as protobuf's, so protobuf's {@link CodedInputStream} / {@link CodedOutputStream} (already a core dependency) do the
 * coding. This class only moves the {@link ByteBuffer}'s position and turns a malformed varint into a
 * {@link ConversionException} naming the file and structure.
 */
final class Varint {
  private Varint() {}

  /** Reads a varint64 at the buffer's position; {@code what} names the structure for the error message. */
  static long read64(ByteBuffer b, Path file, String what) {
    CodedInputStream in = CodedInputStream.newInstance(b.duplicate());
    try {
      long v = in.readRawVarint64();
      b.position(b.position() + in.getTotalBytesRead());
      return v;
    } catch (IOException e) {
      // protobuf reports a varint cut off by the end of the buffer as truncated, one of more than 10 bytes as malformed.
      throw malformed(b, file, what, e.getMessage().contains("truncated") ? "truncated" : "longer than 10 bytes");
    }
  }

  /** Reads a varint that must be a non-negative int (lengths inside a block). */
  static int read32(ByteBuffer b, Path file, String what) {
    long v = read64(b, file, what);
    if (v < 0 || v > Integer.MAX_VALUE) throw malformed(b, file, what, "value " + Long.toUnsignedString(v) + " too large");
    return (int) v;
  }

  static void write64(ByteArrayOutputStream out, long v) {
    byte[] bytes = new byte[CodedOutputStream.computeUInt64SizeNoTag(v)];
    try {
      CodedOutputStream.newInstance(bytes).writeUInt64NoTag(v);
    } catch (IOException e) {
      throw new IllegalStateException("varint of " + v + " does not fit its computed size", e);
    }
    out.writeBytes(bytes);
  }

  private static ConversionException malformed(ByteBuffer b, Path file, String what, String why) {
    return ConversionException.atFile(file, "malformed varint in " + what + " (" + why + ", at byte " + b.position() + ")");
  }
}
