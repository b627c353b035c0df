package returnn.onnx.tf.checkpoint;

import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.proto.BundleEntryProto;
import org.tensorflow.proto.BundleHeaderProto;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.proto.VersionDef;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * Reads a TensorFlow V2 checkpoint (tensor bundle, tensorflow/core/util/tensor_bundle/tensor_bundle.cc) without
 * TensorFlow: {@code <prefix>.index} is an SSTable from tensor name to {@link BundleEntryProto} (plus the header
 * under the empty key), and the tensors' bytes lie in the {@code <prefix>.data-K-of-N} shards, which are
 * memory-mapped. The index and the shard sizes are validated on {@link #open}; each tensor's checksum is verified
 * when its data is first used.
 */
public final class CheckpointReader implements AutoCloseable {
  /** The bundle format version this reader implements (kTensorBundleVersion). */
  private static final int BUNDLE_VERSION = 1;

  /** One tensor of the checkpoint: where its bytes are. */
  public record Entry(String name, DType dtype, long[] shape, int shard, long offset, long size) {
    public Entry {
      shape = shape.clone();
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }
  }

  /** An index entry with what only the reader needs: the stored (masked) checksum, and whether it is partitioned. */
  private record Stored(Entry entry, int maskedCrc, boolean sliced) {}

  private final Path prefix;
  private final Path indexFile;
  private final Map<String, Stored> entries;
  private MappedShard[] shards;

  private CheckpointReader(Path prefix, Path indexFile, Map<String, Stored> entries, MappedShard[] shards) {
    this.prefix = prefix;
    this.indexFile = indexFile;
    this.entries = entries;
    this.shards = shards;
  }

  /**
   * Opens the checkpoint at {@code path}: its prefix (e.g. {@code models/epoch.030}), one of its files, or a
   * directory with a {@code checkpoint} state file.
   */
  public static CheckpointReader open(Path path) {
    return open(path, MappedShard.DEFAULT_CHUNK);
  }

  /** As {@link #open(Path)}, mapping shards in chunks of {@code chunk} bytes (small values test chunk crossing). */
  static CheckpointReader open(Path path, long chunk) {
    Index idx = readIndex(path);
    Path prefix = idx.prefix();
    Path index = idx.indexFile();
    int numShards = idx.dataFiles().size();
    Map<String, Stored> entries = idx.stored;
    MappedShard[] shards = new MappedShard[numShards];
    for (int i = 0; i < numShards; i++) shards[i] = MappedShard.map(idx.dataFiles().get(i), chunk);
    for (Stored s : entries.values()) {
      Entry e = s.entry();
      MappedShard shard = shards[e.shard()];
      if (!s.sliced() && (e.offset() > shard.size() || e.size() > shard.size() - e.offset())) {
        throw ConversionException.atFile(shard.file(), "truncated data file: tensor '" + e.name() + "' needs bytes ["
            + e.offset() + ", " + (e.offset() + e.size()) + ") but the file has " + shard.size() + " bytes");
      }
    }
    return new CheckpointReader(prefix, index, entries, shards);
  }

  /**
   * A checkpoint's index alone: every tensor's name, dtype and shape, and the data files it refers to, which need
   * not exist (e.g. {@code inspect} of a prefix whose data shard was not copied).
   */
  public static final class Index {
    private final Path prefix;
    private final Path indexFile;
    private final Map<String, Stored> stored;
    private final List<Path> dataFiles;

    private Index(Path prefix, Path indexFile, Map<String, Stored> stored, List<Path> dataFiles) {
      this.prefix = prefix;
      this.indexFile = indexFile;
      this.stored = stored;
      this.dataFiles = dataFiles;
    }

    public Path prefix() {
      return prefix;
    }

    public Path indexFile() {
      return indexFile;
    }

    /** The data shards, {@code <prefix>.data-0000i-of-0000n}. */
    public List<Path> dataFiles() {
      return dataFiles;
    }

    /** All tensors, in the index's order. */
    public List<Entry> entries() {
      return stored.values().stream().map(Stored::entry).toList();
    }
  }

  /** Reads and checks the index of the checkpoint at {@code path} (as {@link #open(Path)} takes it), not its data. */
  public static Index readIndex(Path path) {
    Path prefix = CheckpointPaths.resolvePrefix(path);
    Path index = CheckpointPaths.indexFile(prefix);
    List<TableReader.KeyValue> table = TableReader.read(index);
    if (table.isEmpty() || table.get(0).key().length != 0) {
      throw ConversionException.atFile(index, "no bundle header entry (not a V2 checkpoint index)");
    }
    int numShards = checkHeader(index, table.get(0).value());
    Map<String, Stored> entries = new LinkedHashMap<>();
    for (TableReader.KeyValue kv : table.subList(1, table.size())) {
      String name = new String(kv.key(), StandardCharsets.UTF_8);
      entries.put(name, parseEntry(index, name, kv.value(), numShards));
    }
    List<Path> files = new java.util.ArrayList<>();
    for (int i = 0; i < numShards; i++) files.add(CheckpointPaths.dataFile(prefix, i, numShards));
    return new Index(prefix, index, entries, List.copyOf(files));
  }

  /** Validates the header entry (BundleReader's constructor) and returns the number of shards. */
  private static int checkHeader(Path index, byte[] value) {
    BundleHeaderProto header;
    try {
      header = BundleHeaderProto.parseFrom(value);
    } catch (InvalidProtocolBufferException e) {
      throw ConversionException.atFile(index, "unparseable bundle header: " + e.getMessage());
    }
    if (header.getEndianness() != BundleHeaderProto.Endianness.LITTLE) {
      throw ConversionException.atFile(index, "checkpoint data is not little-endian (" + header.getEndianness()
          + "); only little-endian checkpoints are supported");
    }
    VersionDef v = header.getVersion();
    if (v.getMinConsumer() > BUNDLE_VERSION || v.getBadConsumersList().contains(BUNDLE_VERSION)) {
      throw ConversionException.atFile(index, "checkpoint format version " + v.getProducer() + " (min consumer "
          + v.getMinConsumer() + ") is newer than the supported version " + BUNDLE_VERSION);
    }
    if (header.getNumShards() < 1) {
      throw ConversionException.atFile(index, "bad bundle header: num_shards = " + header.getNumShards());
    }
    return header.getNumShards();
  }

  private static Stored parseEntry(Path index, String name, byte[] value, int numShards) {
    BundleEntryProto p;
    try {
      p = BundleEntryProto.parseFrom(value);
    } catch (InvalidProtocolBufferException e) {
      throw ConversionException.atFile(index, "unparseable entry for tensor '" + name + "': " + e.getMessage());
    }
    DType dtype = DType.fromTfOrNull(p.getDtypeValue());
    if (dtype == null) {
      throw ConversionException.atFile(index, "tensor '" + name + "' has unknown dtype code " + p.getDtypeValue());
    }
    long[] shape = shape(index, name, p.getShape());
    boolean sliced = p.getSlicesCount() > 0;
    String where = "tensor '" + name + "'";
    if (!sliced) {
      if (p.getShardId() < 0 || p.getShardId() >= numShards) {
        throw ConversionException.atFile(index, where + " is in shard " + p.getShardId() + " of " + numShards);
      }
      if (p.getOffset() < 0 || p.getSize() < 0) {
        throw ConversionException.atFile(index, where + " has negative offset or size");
      }
      long count, needed;
      try {
        count = Tensor.count(shape);
        needed = dtype.size > 0 ? Math.multiplyExact(count, (long) dtype.size) : -1;
      } catch (IllegalArgumentException | ArithmeticException ex) {
        throw ConversionException.atFile(index, where + " has an impossible shape " + Arrays.toString(shape) + " (its size overflows)");
      }
      if (dtype.size > 0 && p.getSize() != needed) {
        throw ConversionException.atFile(index, where + " has " + p.getSize() + " bytes, but " + dtype.lower()
            + Arrays.toString(shape) + " needs " + needed);
      }
      // At least one varint byte per element plus the 4-byte length checksum (BundleReader::GetValue).
      if (dtype == DType.STRING && p.getSize() < count + 4) {
        throw ConversionException.atFile(index, where + " has " + p.getSize() + " bytes, too few for "
            + count + " strings");
      }
    }
    Entry e = new Entry(name, dtype, shape, p.getShardId(), p.getOffset(), p.getSize());
    return new Stored(e, p.getCrc32C(), sliced);
  }

  private static long[] shape(Path index, String name, TensorShapeProto proto) {
    long[] shape = new long[proto.getDimCount()];
    for (int i = 0; i < shape.length; i++) shape[i] = proto.getDim(i).getSize();
    if (proto.getUnknownRank() || Arrays.stream(shape).anyMatch(d -> d < 0)) {
      throw ConversionException.atFile(index, "tensor '" + name + "' has an invalid shape " + proto.toString().trim());
    }
    return shape;
  }

  public Path prefix() {
    return prefix;
  }

  public Path indexFile() {
    return indexFile;
  }

  /** All tensors, in the index's order (ascending by name, compared as UTF-8 bytes). */
  public List<Entry> entries() {
    List<Entry> list = new ArrayList<>(entries.size());
    for (Stored s : entries.values()) list.add(s.entry());
    return list;
  }

  /** The entry named {@code name}, or null. */
  public Entry entry(String name) {
    Stored s = entries.get(name);
    return s == null ? null : s.entry();
  }

  public boolean contains(String name) {
    return entries.containsKey(name);
  }

  /**
   * The tensor named {@code name}. Numeric tensors are lazy views of the mapped shard; their checksum is verified
   * when the data is first used. String tensors are decoded (and verified) now.
   */
  public Tensor tensor(String name) {
    Stored s = entries.get(name);
    if (s == null) throw ConversionException.atFile(indexFile, "no tensor '" + name + "' in the checkpoint");
    Entry e = s.entry();
    if (s.sliced()) {
      throw ConversionException.atFile(indexFile, "tensor '" + name + "' is a partitioned (sliced) variable; "
          + "partitioned variables are not supported");
    }
    if (shards == null) throw new IllegalStateException("checkpoint reader for " + prefix + " is closed");
    MappedShard shard = shards[e.shard()];
    int crc = Crc32c.unmask(s.maskedCrc());
    if (e.dtype() == DType.STRING) {
      ByteBuffer bytes = shard.slice(e.offset(), e.size());
      return Tensor.ofStrings(e.shape(), BundleStrings.decode(bytes, Tensor.count(e.shape()), crc, shard.file(), name));
    }
    if (e.dtype().size < 0) {
      throw ConversionException.atFile(indexFile, "tensor '" + name + "' has dtype " + e.dtype().lower()
          + ", which cannot be read from a checkpoint");
    }
    return Tensor.lazy(e.dtype(), e.shape(), () -> verified(shard, e, crc));
  }

  /** As {@link #tensor}, but reads and verifies the data now. */
  public Tensor tensorChecked(String name) {
    Tensor t = tensor(name);
    if (t.dtype() != DType.STRING) t.data();
    return t;
  }

  private static ByteBuffer verified(MappedShard shard, Entry e, int crc) {
    ByteBuffer data = shard.slice(e.offset(), e.size());
    if (Crc32c.of(data) != crc) {
      throw ConversionException.atFile(shard.file(), "checksum mismatch for tensor '" + e.name() + "' ("
          + e.size() + " bytes at offset " + e.offset() + "): the data file is corrupted");
    }
    return data;
  }

  /** Drops the mappings (the OS unmaps them once unreferenced); tensors already handed out stay usable. */
  @Override
  public void close() {
    shards = null;
  }
}
