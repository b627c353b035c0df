package returnn.onnx.tf.checkpoint;

import io.airlift.compress.snappy.SnappyDecompressor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import returnn.onnx.ConversionException;

/**
 * Reads a LevelDB-format SSTable the way TensorFlow writes checkpoint indexes
 * (tensorflow/tsl/lib/io/table.cc, format.cc, block.cc). A checkpoint index holds one small entry per variable,
 * so the whole table is read at once, checking every block's checksum.
 *
 * <p>Layout: data blocks, a metaindex block, an index block (one entry per data block: a key at least as large
 * as the block's last key, and the block's handle), then a 48-byte footer with the metaindex and index handles.
 *
 * <p>A block is stored raw (type 0) or snappy-compressed (type 1, kSnappyCompression). TensorFlow's BundleWriter
 * writes raw blocks, but MergeBundles (sharded saves) of TF 1.0/1.1 used the table default, snappy, and any tool
 * built on table_builder.cc may; TF reads both. Snappy is decoded by aircompressor (pure Java, bounds-checked).
 */
final class TableReader {
  /** One table entry; keys are raw bytes (TF compares them bytewise, unsigned). */
  record KeyValue(byte[] key, byte[] value) {}

  /** Two handles of at most 2 x 10 varint bytes, zero padded, then the 8-byte magic (format.h). */
  static final int FOOTER_LENGTH = 48;
  static final long MAGIC = 0xdb4775248b80fb57L;
  /** After each block: 1 byte compression type, 4 bytes masked CRC32C of block contents + type byte. */
  static final int TRAILER_LENGTH = 5;
  static final byte NO_COMPRESSION = 0;
  static final byte SNAPPY_COMPRESSION = 1;
  /**
   * Snappy's densest element is a 3-byte copy of 64 bytes, so a block expands at most ~22-fold; a declared length
   * beyond this bound is garbage and is refused before anything is allocated.
   */
  private static final int MAX_SNAPPY_EXPANSION = 32;

  private final Path file;
  private final ByteBuffer bytes;

  private TableReader(Path file, byte[] bytes) {
    this.file = file;
    this.bytes = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** All entries in file order (ascending key order). */
  static List<KeyValue> read(Path file) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw ConversionException.atFile(file, "checkpoint index file not found");
    } catch (IOException e) {
      throw ConversionException.atFile(file, "cannot read checkpoint index: " + e.getMessage());
    }
    return new TableReader(file, bytes).entries();
  }

  private List<KeyValue> entries() {
    int length = bytes.capacity();
    if (length < FOOTER_LENGTH) {
      throw error("truncated index: " + length + " bytes, shorter than the " + FOOTER_LENGTH + "-byte table footer");
    }
    ByteBuffer footer = bytes.slice(length - FOOTER_LENGTH, FOOTER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
    if (footer.getLong(FOOTER_LENGTH - 8) != MAGIC) {
      throw error("bad table magic number at the end of the index (truncated or not a TensorFlow checkpoint index)");
    }
    long[] metaindex = handle(footer, "table footer");
    long[] index = handle(footer, "table footer");
    block(metaindex, "metaindex block"); // TF writes it empty; read only to verify its checksum
    List<KeyValue> result = new ArrayList<>();
    for (KeyValue indexEntry : parse(block(index, "index block"), "index block")) {
      long[] handle = handle(ByteBuffer.wrap(indexEntry.value()), "index block entry");
      result.addAll(parse(block(handle, "data block"), "data block at offset " + handle[0]));
    }
    return result;
  }

  /** A BlockHandle: varint64 offset, varint64 size. */
  private long[] handle(ByteBuffer b, String what) {
    return new long[] {Varint.read64(b, file, what), Varint.read64(b, file, what)};
  }

  /** The contents of the block at {@code handle}, after checking its trailer. */
  private ByteBuffer block(long[] handle, String what) {
    long offset = handle[0];
    long size = handle[1];
    long end = bytes.capacity() - FOOTER_LENGTH;
    if (offset < 0 || size < 0 || offset > end || size > end - offset - TRAILER_LENGTH) {
      throw error(what + " (offset " + offset + ", " + size + " bytes) lies outside the index file (truncated or garbled)");
    }
    int start = (int) offset;
    int n = (int) size;
    byte type = bytes.get(start + n);
    int stored = bytes.getInt(start + n + 1);
    int actual = Crc32c.of(bytes.array(), start, n + 1);
    if (Crc32c.unmask(stored) != actual) {
      throw error("checksum mismatch in " + what + " at offset " + offset + " (index file corrupted)");
    }
    if (type == SNAPPY_COMPRESSION) return ByteBuffer.wrap(unsnappy(start, n, what, offset)).order(ByteOrder.LITTLE_ENDIAN);
    if (type != NO_COMPRESSION) {
      throw error(what + " at offset " + offset + " uses compression type " + type
          + "; only uncompressed (0) and snappy (1) checkpoint index blocks exist in TensorFlow");
    }
    return bytes.slice(start, n).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** The uncompressed contents of a snappy block (format.cc ReadBlock, kSnappyCompression). */
  private byte[] unsnappy(int start, int n, String what, long offset) {
    String where = what + " at offset " + offset;
    byte[] in = Arrays.copyOfRange(bytes.array(), start, start + n);
    long length = declaredLength(in, where);
    if (length > (long) MAX_SNAPPY_EXPANSION * n + 64 || length > Integer.MAX_VALUE - 16) {
      throw error(where + ": snappy block declares " + length + " uncompressed bytes from " + n
          + " compressed (garbled block)");
    }
    byte[] out = new byte[(int) length];
    int produced;
    try {
      produced = new SnappyDecompressor().decompress(in, 0, n, out, 0, out.length);
    } catch (RuntimeException e) { // MalformedInputException, or anything else the decoder throws on garbage
      throw error(where + ": corrupt snappy-compressed block (" + e.getMessage() + ")");
    }
    if (produced != length) {
      throw error(where + ": snappy block gives " + produced + " bytes, not the " + length + " it declares");
    }
    return out;
  }

  /** Snappy's preamble: the uncompressed length as a little-endian base-128 varint of at most 5 bytes. */
  private long declaredLength(byte[] in, String where) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(in);
    try {
      long value = Varint.read64(b, file, where);
      if (b.position() <= 5) return value;
    } catch (returnn.onnx.ConversionException e) {
      // reported below, in the snappy block's terms
    }
    throw error(where + ": snappy block has a malformed length preamble (garbled block)");
  }

  /**
   * Decodes a block: entries of (varint32 shared key bytes, varint32 unshared key bytes, varint32 value length,
   * unshared key suffix, value), then a fixed32 array of restart offsets and its fixed32 length (block_builder.cc).
   */
  private List<KeyValue> parse(ByteBuffer block, String what) {
    int size = block.capacity();
    long restarts = size >= 4 ? block.getInt(size - 4) & 0xffffffffL : -1;
    if (restarts < 0 || restarts > (size - 4) / 4) throw error(what + ": bad restart array (garbled block)");
    int limit = size - 4 - 4 * (int) restarts;
    ByteBuffer b = block.slice(0, limit);
    List<KeyValue> result = new ArrayList<>();
    byte[] key = new byte[0];
    while (b.hasRemaining()) {
      int shared = Varint.read32(b, file, what);
      int unshared = Varint.read32(b, file, what);
      int valueLength = Varint.read32(b, file, what);
      if (shared > key.length || unshared > b.remaining() || valueLength > b.remaining() - unshared) {
        throw error(what + ": entry at byte " + b.position() + " runs past the block (garbled block)");
      }
      key = Arrays.copyOf(key, shared + unshared);
      b.get(key, shared, unshared);
      byte[] value = new byte[valueLength];
      b.get(value);
      result.add(new KeyValue(key, value));
    }
    return result;
  }

  private ConversionException error(String message) {
    return ConversionException.atFile(file, message);
  }
}
