package returnn.onnx.tf.checkpoint;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import returnn.onnx.ConversionException;

/**
 * DT_STRING tensors in a bundle shard (WriteStringTensor / ReadStringTensor in
 * tensorflow/core/util/tensor_bundle/tensor_bundle.cc): a varint64 length per element, a 4-byte masked CRC32C of
 * the lengths, then the element bytes. The entry's checksum covers each length as a little-endian uint32 (uint64
 * if it does not fit), the raw 4 length-checksum bytes, and the element bytes.
 */
final class BundleStrings {
  private static final long UINT32_MAX = 0xffffffffL;

  private BundleStrings() {}

  /** The encoded bytes and the (unmasked) entry checksum. */
  record Encoded(byte[] bytes, int crc) {}

  static Encoded encode(List<byte[]> values) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    CRC32C crc = new CRC32C();
    for (byte[] v : values) {
      Varint.write64(out, v.length);
      updateLength(crc, v.length);
    }
    byte[] lengthCrc = littleEndianInt(Crc32c.mask((int) crc.getValue()));
    out.writeBytes(lengthCrc);
    crc.update(lengthCrc);
    for (byte[] v : values) {
      out.writeBytes(v);
      crc.update(v);
    }
    return new Encoded(out.toByteArray(), (int) crc.getValue());
  }

  /** Decodes {@code count} elements from {@code data} (exactly the entry's bytes), checking both checksums. */
  static List<byte[]> decode(ByteBuffer data, long count, int expectedCrc, Path file, String name) {
    ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    String what = "string tensor '" + name + "'";
    CRC32C crc = new CRC32C();
    long[] lengths = new long[Math.toIntExact(count)];
    long total = 0;
    for (int i = 0; i < lengths.length; i++) {
      lengths[i] = Varint.read64(b, file, what);
      if (lengths[i] < 0 || lengths[i] > b.remaining()) throw sizeMismatch(file, what);
      updateLength(crc, lengths[i]);
      total += lengths[i];
    }
    if (total != b.remaining() - 4L) throw sizeMismatch(file, what);
    int lengthCrc = b.getInt();
    if (Crc32c.unmask(lengthCrc) != (int) crc.getValue()) {
      throw ConversionException.atFile(file, "checksum mismatch for the element lengths of " + what + " (corrupted data)");
    }
    crc.update(littleEndianInt(lengthCrc));
    List<byte[]> values = new ArrayList<>(lengths.length);
    for (long length : lengths) {
      byte[] v = new byte[(int) length];
      b.get(v);
      crc.update(v);
      values.add(v);
    }
    if ((int) crc.getValue() != expectedCrc) {
      throw ConversionException.atFile(file, "checksum mismatch for tensor '" + name + "' (corrupted data)");
    }
    return values;
  }

  private static ConversionException sizeMismatch(Path file, String what) {
    return ConversionException.atFile(file, what + ": element lengths do not match the entry size (corrupted data)");
  }

  private static void updateLength(CRC32C crc, long length) {
    ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    if (length <= UINT32_MAX) b.putInt((int) length);
    else b.putLong(length);
    crc.update(b.flip());
  }

  private static byte[] littleEndianInt(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
  }
}
