package returnn.onnx.tf.checkpoint;

import io.airlift.compress.snappy.SnappyCompressor;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Builds an uncompressed LevelDB-format SSTable in memory, as TensorFlow's table_builder.cc does for checkpoint
 * indexes (see {@link TableReader} for the layout). Keys must be added in strictly ascending bytewise order.
 * With {@code snappy}, each block is stored snappy-compressed when that saves at least an eighth, as table_builder.cc
 * does with kSnappyCompression (TF 1.0/1.1 merged checkpoints); TensorFlow writes uncompressed indexes today.
 */
final class TableWriter {
  /** table_options.h defaults: 256 KiB data blocks, a restart point every 16 keys. */
  private static final int BLOCK_SIZE = 256 * 1024;
  private static final int RESTART_INTERVAL = 16;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final Block data = new Block(RESTART_INTERVAL);
  /** table_builder.cc uses a restart point at every index entry. */
  private final Block index = new Block(1);
  private byte[] lastKey;
  private final boolean snappy;

  TableWriter() {
    this(false);
  }

  TableWriter(boolean snappy) {
    this.snappy = snappy;
  }

  void add(byte[] key, byte[] value) {
    if (lastKey != null && Arrays.compareUnsigned(key, lastKey) <= 0) {
      throw new IllegalArgumentException("table keys must be strictly ascending");
    }
    data.add(key, value);
    lastKey = key;
    if (data.size() >= BLOCK_SIZE) flush();
  }

  /** The complete table file. */
  byte[] finish() {
    flush();
    byte[] metaindex = writeBlock(new Block(RESTART_INTERVAL));
    byte[] indexHandle = writeBlock(index);
    ByteArrayOutputStream footer = new ByteArrayOutputStream();
    footer.writeBytes(metaindex);
    footer.writeBytes(indexHandle);
    footer.writeBytes(new byte[TableReader.FOOTER_LENGTH - 8 - footer.size()]);
    footer.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(TableReader.MAGIC).array());
    out.writeBytes(footer.toByteArray());
    return out.toByteArray();
  }

  /**
   * Ends the current data block. Its index key is the block's last key, which is a valid separator (at least every
   * key of this block, below every key of the next); TF shortens it, which only saves bytes.
   */
  private void flush() {
    if (data.isEmpty()) return;
    index.add(lastKey, writeBlock(data));
  }

  /** Appends the block with its trailer, resets it, and returns its encoded BlockHandle. */
  private byte[] writeBlock(Block block) {
    byte[] contents = block.finish();
    byte type = TableReader.NO_COMPRESSION;
    if (snappy) {
      byte[] compressed = compress(contents);
      if (compressed.length < contents.length - contents.length / 8) {
        contents = compressed;
        type = TableReader.SNAPPY_COMPRESSION;
      }
    }
    long offset = out.size();
    out.writeBytes(contents);
    byte[] withType = Arrays.copyOf(contents, contents.length + 1);
    withType[contents.length] = type;
    ByteBuffer trailer = ByteBuffer.allocate(TableReader.TRAILER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
    trailer.put(type).putInt(Crc32c.mask(Crc32c.of(withType, 0, withType.length)));
    out.writeBytes(trailer.array());
    ByteArrayOutputStream handle = new ByteArrayOutputStream();
    Varint.write64(handle, offset);
    Varint.write64(handle, contents.length);
    return handle.toByteArray();
  }

  private static byte[] compress(byte[] raw) {
    SnappyCompressor c = new SnappyCompressor();
    byte[] out = new byte[c.maxCompressedLength(raw.length)];
    int n = c.compress(raw, 0, raw.length, out, 0, out.length);
    return Arrays.copyOf(out, n);
  }

  /** A block under construction: prefix-compressed entries plus restart points (block_builder.cc). */
  private static final class Block {
    private final int restartInterval;
    private ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    private final List<Integer> restarts = new ArrayList<>(List.of(0));
    private int counter;
    private byte[] last = new byte[0];
    private boolean empty = true;

    Block(int restartInterval) {
      this.restartInterval = restartInterval;
    }

    void add(byte[] key, byte[] value) {
      int shared = 0;
      if (counter < restartInterval) {
        int max = Math.min(last.length, key.length);
        while (shared < max && last[shared] == key[shared]) shared++;
      } else {
        restarts.add(buffer.size());
        counter = 0;
      }
      Varint.write64(buffer, shared);
      Varint.write64(buffer, key.length - shared);
      Varint.write64(buffer, value.length);
      buffer.write(key, shared, key.length - shared);
      buffer.writeBytes(value);
      last = key;
      counter++;
      empty = false;
    }

    boolean isEmpty() {
      return empty;
    }

    /** Current size estimate: entries plus the restart array. */
    int size() {
      return buffer.size() + 4 * restarts.size() + 4;
    }

    byte[] finish() {
      ByteBuffer tail = ByteBuffer.allocate(4 * restarts.size() + 4).order(ByteOrder.LITTLE_ENDIAN);
      for (int r : restarts) tail.putInt(r);
      tail.putInt(restarts.size());
      buffer.writeBytes(tail.array());
      byte[] contents = buffer.toByteArray();
      buffer = new ByteArrayOutputStream();
      restarts.clear();
      restarts.add(0);
      counter = 0;
      last = new byte[0];
      empty = true;
      return contents;
    }
  }
}
