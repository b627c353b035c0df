package returnn.onnx.tf.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.tensorflow.proto.BundleEntryProto;
import org.tensorflow.proto.BundleHeaderProto;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.proto.VersionDef;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * Writes a TensorFlow V2 checkpoint as BundleWriter does (tensorflow/core/util/tensor_bundle/tensor_bundle.cc), so
 * TensorFlow's RestoreV2 can load it. All files are written under temporary names and then moved into place,
 * data shards first and the index last, so a failure never leaves a half-written checkpoint.
 */
public final class CheckpointWriter {
  private CheckpointWriter() {}

  /** Writes {@code tensors} (name → tensor) to {@code <prefix>.index} and one data shard. */
  public static void write(Path prefix, Map<String, Tensor> tensors) {
    write(prefix, tensors, 1);
  }

  /** As {@link #write(Path, Map)}, spreading the tensors round-robin over {@code shards} data files. */
  public static void write(Path prefix, Map<String, Tensor> tensors, int shards) {
    write(prefix, tensors, shards, false);
  }

  /**
   * As {@link #write(Path, Map, int)}; with {@code snappyIndex} the index blocks are snappy-compressed where that
   * pays, as TF 1.0/1.1's MergeBundles wrote them (TensorFlow reads both; today's TF writes them uncompressed).
   */
  public static void write(Path prefix, Map<String, Tensor> tensors, int shards, boolean snappyIndex) {
    if (shards < 1) throw new IllegalArgumentException("shards must be at least 1");
    // The index is ordered by key bytes, which differs from String order for characters beyond U+FFFF.
    TreeMap<byte[], Tensor> sorted = new TreeMap<>(Arrays::compareUnsigned);
    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
      String name = e.getKey();
      DType dtype = e.getValue().dtype();
      if (name.isEmpty()) throw new IllegalArgumentException("empty tensor name (reserved for the bundle header)");
      if (dtype.size < 0 && dtype != DType.STRING) {
        throw new IllegalArgumentException("tensor '" + name + "' has dtype " + dtype.lower() + ", which cannot be saved");
      }
      if (sorted.put(name.getBytes(StandardCharsets.UTF_8), e.getValue()) != null) {
        throw new IllegalArgumentException("tensor name '" + name + "' has the same UTF-8 form as another");
      }
    }
    try (Staging staging = new Staging()) {
      writeFiles(staging, prefix, sorted, shards, snappyIndex);
    } catch (IOException e) {
      throw ConversionException.atFile(prefix, "cannot write checkpoint: " + e);
    }
  }

  private static void writeFiles(Staging staging, Path prefix, TreeMap<byte[], Tensor> sorted, int shards,
      boolean snappyIndex) throws IOException {
    Files.createDirectories(prefix.toAbsolutePath().getParent());
    TableWriter index = new TableWriter(snappyIndex);
    index.add(new byte[0], header(shards).toByteArray());
    FileChannel[] out = new FileChannel[shards];
    try {
      for (int s = 0; s < shards; s++) {
        out[s] = FileChannel.open(staging.temp(CheckpointPaths.dataFile(prefix, s, shards)), StandardOpenOption.WRITE);
      }
      int i = 0;
      for (Map.Entry<byte[], Tensor> e : sorted.entrySet()) {
        int shard = i++ % shards;
        index.add(e.getKey(), writeTensor(out[shard], shard, e.getValue()).toByteArray());
      }
    } finally {
      for (FileChannel c : out) if (c != null) c.close();
    }
    Files.write(staging.temp(CheckpointPaths.indexFile(prefix)), index.finish());
    staging.commit();
  }

  /** Appends the tensor's bytes at the channel's end and returns its index entry. */
  private static BundleEntryProto writeTensor(FileChannel out, int shard, Tensor t) throws IOException {
    long offset = out.position();
    ByteBuffer bytes;
    int crc;
    if (t.dtype() == DType.STRING) {
      BundleStrings.Encoded encoded = BundleStrings.encode(t.strings());
      bytes = ByteBuffer.wrap(encoded.bytes());
      crc = encoded.crc();
    } else {
      bytes = t.data();
      crc = Crc32c.of(bytes);
    }
    long size = bytes.remaining();
    while (bytes.hasRemaining()) out.write(bytes);
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (long d : t.shape()) shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    return BundleEntryProto.newBuilder()
        .setDtypeValue(t.dtype().tfCode)
        .setShape(shape)
        .setShardId(shard)
        .setOffset(offset)
        .setSize(size)
        .setCrc32C(Crc32c.mask(crc))
        .build();
  }

  /** BundleWriter::Finish: little-endian, format version 1, readable by every consumer version. */
  private static BundleHeaderProto header(int shards) {
    return BundleHeaderProto.newBuilder()
        .setNumShards(shards)
        .setEndianness(BundleHeaderProto.Endianness.LITTLE)
        .setVersion(VersionDef.newBuilder().setProducer(1))
        .build();
  }

  /** Temporary files next to their targets; {@link #commit} renames them in creation order, close deletes leftovers. */
  private static final class Staging implements AutoCloseable {
    private static final SecureRandom RANDOM = new SecureRandom();
    private final List<Path[]> files = new ArrayList<>();

    /** {@code <target>.tempstate<random>} as BundleWriter names them; created with default permissions. */
    Path temp(Path target) throws IOException {
      Path temp = Files.createFile(
          target.resolveSibling(target.getFileName() + ".tempstate" + Long.toUnsignedString(RANDOM.nextLong())));
      files.add(new Path[] {temp, target});
      return temp;
    }

    void commit() throws IOException {
      while (!files.isEmpty()) {
        Path[] f = files.get(0);
        returnn.onnx.TempFiles.sync(f[0]); // on disk before the rename
        Files.move(f[0], f[1], StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        files.remove(0);
      }
    }

    @Override
    public void close() throws IOException {
      for (Path[] f : files) Files.deleteIfExists(f[0]);
    }
  }
}
