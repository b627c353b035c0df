package returnn.onnx.tf.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import returnn.onnx.ConversionException;

/** Varints through protobuf's coder: LevelDB's byte layout, the buffer's position moved, errors naming the structure. */
class VarintTest {
  @Test
  void roundTripsAndAdvancesThePosition() {
    long[] values = {0, 1, 127, 128, 300, 1L << 35, Long.MAX_VALUE, -1};
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (long v : values) Varint.write64(out, v);
    ByteBuffer b = ByteBuffer.wrap(out.toByteArray());
    for (long v : values) assertEquals(v, Varint.read64(b, Path.of("t"), "test"));
    assertEquals(0, b.remaining());
    // LevelDB's layout: 300 = 0b10_0101100 → ac 02.
    ByteArrayOutputStream three = new ByteArrayOutputStream();
    Varint.write64(three, 300);
    assertArrayEquals(new byte[] {(byte) 0xac, 0x02}, three.toByteArray());
  }

  @Test
  void malformedVarintsAreOneErrorNamingTheStructure() {
    ByteBuffer cut = ByteBuffer.wrap(new byte[] {5, (byte) 0x80, (byte) 0x80});
    cut.get();
    ConversionException e = assertThrows(ConversionException.class, () -> Varint.read64(cut, Path.of("x.index"), "a block handle"));
    assertTrue(e.getMessage().contains("malformed varint in a block handle (truncated, at byte 1)"), e.getMessage());
    byte[] eleven = new byte[11];
    java.util.Arrays.fill(eleven, (byte) 0xff);
    e = assertThrows(ConversionException.class, () -> Varint.read64(ByteBuffer.wrap(eleven), Path.of("x.index"), "an entry"));
    assertTrue(e.getMessage().contains("longer than 10 bytes"), e.getMessage());
    e = assertThrows(ConversionException.class, () -> Varint.read32(ByteBuffer.wrap(new byte[] {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x10}),
        Path.of("x.index"), "a length"));
    assertTrue(e.getMessage().contains("too large"), e.getMessage());
  }
}
