package returnn.onnx.tf.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.Tensor;

/**
 * A read-only memory-mapped {@code .data-*} shard. A ByteBuffer addresses at most 2 GiB, so a larger shard is
 * mapped as consecutive chunks; a tensor that crosses a chunk boundary is copied into a heap buffer.
 */
final class MappedShard {
  /** 1 GiB chunks: well under the 2 GiB ByteBuffer limit. */
  static final long DEFAULT_CHUNK = 1L << 30;

  private final Path file;
  private final long size;
  private final long chunk;
  private final MappedByteBuffer[] chunks;

  private MappedShard(Path file, long size, long chunk, MappedByteBuffer[] chunks) {
    this.file = file;
    this.size = size;
    this.chunk = chunk;
    this.chunks = chunks;
  }

  static MappedShard map(Path file, long chunk) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      MappedByteBuffer[] chunks = new MappedByteBuffer[(int) Math.max(1, (size + chunk - 1) / chunk)];
      for (int i = 0; i < chunks.length; i++) {
        long start = i * chunk;
        chunks[i] = ch.map(FileChannel.MapMode.READ_ONLY, start, Math.min(chunk, size - start));
      }
      return new MappedShard(file, size, chunk, chunks);
    } catch (NoSuchFileException e) {
      throw ConversionException.atFile(file, "checkpoint data shard not found");
    } catch (IOException e) {
      throw ConversionException.atFile(file, "cannot map checkpoint data shard: " + e.getMessage());
    }
  }

  Path file() {
    return file;
  }

  long size() {
    return size;
  }

  /** The bytes [offset, offset + length), little-endian; the caller has checked they lie inside the shard. */
  ByteBuffer slice(long offset, long length) {
    // Overflow-safe (offset + length could wrap around for hostile index entries).
    if (offset < 0 || length < 0 || offset > size || length > size - offset) {
      throw ConversionException.atFile(file, length + " bytes at offset " + offset + " lie outside the shard's " + size + " bytes");
    }
    int first = (int) (offset / chunk);
    long within = offset - first * chunk;
    if (within + length <= chunk) {
      return chunks[first].slice((int) within, (int) length).order(ByteOrder.LITTLE_ENDIAN);
    }
    ByteBuffer copy = Tensor.alloc(length);
    for (long pos = offset; copy.hasRemaining(); ) {
      int c = (int) (pos / chunk);
      int start = (int) (pos - c * chunk);
      int n = (int) Math.min(copy.remaining(), chunks[c].capacity() - start);
      copy.put(chunks[c].slice(start, n));
      pos += n;
    }
    return copy.flip();
  }
}
