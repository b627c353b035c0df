package returnn.onnx.tf.checkpoint;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * CRC32C (Castagnoli) as TensorFlow stores it. Checksums that are themselves stored next to checksummed data
 * are "masked" so that a CRC over data containing CRCs stays well distributed
 * (tensorflow/tsl/lib/hash/crc32c.h, same rule as LevelDB's util/crc32c.h).
 *
 * <p>The checksum itself is the JDK's {@link CRC32C} (hardware-accelerated); only TF's mask/unmask, a rotate and an
 * add that no library offers on its own, is written here.
 */
public final class Crc32c {
  private static final int MASK_DELTA = 0xa282ead8;

  private Crc32c() {}

  /** The CRC32C of the buffer's remaining bytes (the buffer's position is not moved). */
  public static int of(ByteBuffer data) {
    CRC32C crc = new CRC32C();
    crc.update(data.duplicate());
    return (int) crc.getValue();
  }

  public static int of(byte[] data, int offset, int length) {
    CRC32C crc = new CRC32C();
    crc.update(data, offset, length);
    return (int) crc.getValue();
  }

  public static int mask(int crc) {
    return ((crc >>> 15) | (crc << 17)) + MASK_DELTA;
  }

  public static int unmask(int masked) {
    int rot = masked - MASK_DELTA;
    return (rot >>> 17) | (rot << 15);
  }
}
