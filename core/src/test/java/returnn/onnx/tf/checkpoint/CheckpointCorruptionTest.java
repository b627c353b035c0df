package returnn.onnx.tf.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.BundleEntryProto;
import org.tensorflow.proto.BundleHeaderProto;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.proto.TensorSliceProto;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.Tensor;

/** Each kind of damage gives a ConversionException naming the file and what is wrong. */
class CheckpointCorruptionTest {
  @TempDir Path dir;
  Path prefix;
  Path index;
  Path data;

  @BeforeEach
  void writeCheckpoint() {
    prefix = dir.resolve("epoch.030");
    index = CheckpointPaths.indexFile(prefix);
    data = CheckpointPaths.dataFile(prefix, 0, 1);
    CheckpointWriter.write(prefix, CheckpointRoundTripTest.sample());
  }

  @Test
  void flippedDataByteIsAChecksumMismatchNamingTheTensor() throws IOException {
    CheckpointReader.Entry w = entry("lstm0_fw/rec/W_re");
    flip(data, (int) w.offset() + 5);
    try (CheckpointReader r = CheckpointReader.open(prefix)) {
      Tensor t = r.tensor("lstm0_fw/rec/W_re"); // lazy: checked on first use
      String m = fails(t::data);
      assertTrue(m.startsWith(data + ": checksum mismatch for tensor 'lstm0_fw/rec/W_re'"), m);
      assertTrue(fails(() -> r.tensorChecked("lstm0_fw/rec/W_re")).contains("checksum mismatch"));
      assertEquals(123456789012L, r.tensor("global_step").toLongs()[0]); // other tensors are fine
    }
  }

  @Test
  void flippedStringByteIsAChecksumMismatch() throws IOException {
    CheckpointReader.Entry v = entry("vocab");
    flip(data, (int) (v.offset() + v.size() - 1));
    try (CheckpointReader r = CheckpointReader.open(prefix)) {
      String m = fails(() -> r.tensor("vocab"));
      assertTrue(m.startsWith(data + ": checksum mismatch for tensor 'vocab'"), m);
    }
  }

  @Test
  void truncatedIndexNamesTheIndexFile() throws IOException {
    byte[] b = Files.readAllBytes(index);
    Files.write(index, Arrays.copyOf(b, b.length - 10));
    String m = fails(() -> CheckpointReader.open(prefix));
    assertTrue(m.startsWith(index + ": bad table magic number"), m);
    Files.write(index, Arrays.copyOf(b, 20));
    assertTrue(fails(() -> CheckpointReader.open(prefix)).startsWith(index + ": truncated index"));
  }

  @Test
  void flippedIndexByteIsABlockChecksumError() throws IOException {
    flip(index, 5); // inside the first data block
    String m = fails(() -> CheckpointReader.open(prefix));
    assertTrue(m.startsWith(index + ": checksum mismatch in data block at offset 0"), m);
  }

  @Test
  void garbledFooterHandleIsReported() throws IOException {
    byte[] b = Files.readAllBytes(index);
    Arrays.fill(b, b.length - 48, b.length - 8, (byte) 0xff); // handles become an over-long varint
    Files.write(index, b);
    String m = fails(() -> CheckpointReader.open(prefix));
    assertTrue(m.startsWith(index + ": malformed varint in table footer"), m);
  }

  @Test
  void unknownCompressionTypeIsRejected() throws IOException {
    byte[] table = table(entryProto(1));
    ByteBuffer b = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
    int n = firstBlockSize(b);
    table[n] = 2; // no such type; fix the checksum so only the type is wrong
    b.putInt(n + 1, Crc32c.mask(Crc32c.of(table, 0, n + 1)));
    Files.write(index, table);
    String m = fails(() -> CheckpointReader.open(prefix));
    assertTrue(m.startsWith(index + ": data block at offset 0 uses compression type 2"), m);
  }

  @Test
  void snappyIndexIsReadAsWritten() {
    Path p = dir.resolve("snappy");
    CheckpointWriter.write(p, manyNames(), 1, true);
    try (CheckpointReader r = CheckpointReader.open(p)) {
      manyNames().forEach((name, t) -> CheckpointRoundTripTest.assertSameTensor(name, t, r.tensorChecked(name)));
    }
  }

  /** Raw bytes marked as snappy (checksum fixed): the decoder's complaint, as one error naming the block. */
  @Test
  void uncompressedBlockMarkedSnappyIsAnError() throws IOException {
    byte[] table = table(entryProto(1));
    ByteBuffer b = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
    int n = firstBlockSize(b);
    table[n] = 1;
    b.putInt(n + 1, Crc32c.mask(Crc32c.of(table, 0, n + 1)));
    Files.write(index, table);
    String m = fails(() -> CheckpointReader.open(prefix));
    assertTrue(m.startsWith(index + ": data block at offset 0: "), m);
    assertTrue(m.contains("snappy"), m);
  }

  /** Bytes of a snappy data block garbled in turn (checksum fixed): an error or a read, never a crash. */
  @Test
  void garbledSnappyBlocksGiveErrorsOnly() throws IOException {
    Path p = dir.resolve("snappy");
    CheckpointWriter.write(p, manyNames(), 1, true);
    Path idx = CheckpointPaths.indexFile(p);
    byte[] good = Files.readAllBytes(idx);
    int n = firstBlockSize(ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN));
    assertEquals(1, good[n], "the first block is snappy-compressed");
    int errors = 0;
    int tries = 0;
    for (int i = 0; i < n; i += i < 16 ? 1 : 13) {
      for (int x : new int[] {0x01, 0x80, 0xff}) {
        tries++;
        byte[] bad = good.clone();
        bad[i] ^= (byte) x;
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(n + 1, Crc32c.mask(Crc32c.of(bad, 0, n + 1)));
        Files.write(idx, bad);
        try (CheckpointReader r = CheckpointReader.open(p)) {
          for (CheckpointReader.Entry e : r.entries()) r.tensorChecked(e.name());
        } catch (ConversionException e) {
          assertTrue(e.getMessage().startsWith(idx + ": ") || e.getMessage().startsWith(p.toString()), e.getMessage());
          errors++;
        }
      }
    }
    assertTrue(errors > tries / 3, errors + " errors from " + tries + " garbled blocks");
  }

  @Test
  void hugeDeclaredSnappyLengthIsRefusedBeforeAllocating() throws IOException {
    Path p = dir.resolve("snappy");
    CheckpointWriter.write(p, manyNames(), 1, true);
    Path idx = CheckpointPaths.indexFile(p);
    byte[] b = Files.readAllBytes(idx);
    int n = firstBlockSize(ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN));
    // The preamble varint (at most 5 bytes) made to declare 2^32 - 1 bytes; the block keeps its size.
    byte[] preamble = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f};
    System.arraycopy(preamble, 0, b, 0, Math.min(5, n));
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(n + 1, Crc32c.mask(Crc32c.of(b, 0, n + 1)));
    Files.write(idx, b);
    String m = fails(() -> CheckpointReader.open(p));
    assertTrue(m.startsWith(idx + ": data block at offset 0: snappy block declares 4294967295 uncompressed bytes"), m);
  }

  /** RETURNN-like names: long shared prefixes, so snappy pays. */
  private static Map<String, Tensor> manyNames() {
    Map<String, Tensor> m = new java.util.LinkedHashMap<>();
    for (int i = 0; i < 40; i++) {
      m.put("lstm" + i + "_fw/rec/W_re", Tensor.ofFloats(new long[] {2}, i, -i));
      m.put("lstm" + i + "_fw/rec/W", Tensor.ofFloats(new long[] {1}, i));
      m.put("lstm" + i + "_fw/rec/b", Tensor.ofInts(new long[] {1}, i));
    }
    return m;
  }

  @Test
  void truncatedDataFileNamesTheTensor() throws IOException {
    byte[] b = Files.readAllBytes(data);
    Files.write(data, Arrays.copyOf(b, b.length - 3));
    String m = fails(() -> CheckpointReader.open(prefix));
    assertTrue(m.startsWith(data + ": truncated data file: tensor '"), m);
  }

  @Test
  void missingShardIsNamed() throws IOException {
    Path p = dir.resolve("sharded");
    CheckpointWriter.write(p, CheckpointRoundTripTest.sample(), 2);
    Path shard1 = CheckpointPaths.dataFile(p, 1, 2);
    Files.delete(shard1);
    assertEquals(shard1 + ": checkpoint data shard not found", fails(() -> CheckpointReader.open(p)));
  }

  @Test
  void missingIndexIsNamed() {
    Path p = dir.resolve("nothing");
    assertEquals(p + ".index: checkpoint index file not found", fails(() -> CheckpointReader.open(p)));
  }

  @Test
  void unknownDtypeCodeIsNamed() throws IOException {
    Files.write(index, table(entryProto(8))); // DT_COMPLEX64
    String m = fails(() -> CheckpointReader.open(prefix));
    assertEquals(index + ": tensor 'x' has unknown dtype code 8", m);
  }

  @Test
  void partitionedVariableIsNamed() throws IOException {
    BundleEntryProto sliced = BundleEntryProto.newBuilder().setDtypeValue(1)
        .setShape(TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dim.newBuilder().setSize(4)))
        .addSlices(TensorSliceProto.newBuilder().addExtent(TensorSliceProto.Extent.newBuilder().setStart(0).setLength(2)))
        .build();
    Files.write(index, table(sliced));
    try (CheckpointReader r = CheckpointReader.open(prefix)) {
      String m = fails(() -> r.tensor("x"));
      assertTrue(m.startsWith(index + ": tensor 'x' is a partitioned (sliced) variable"), m);
    }
  }

  @Test
  void directoryWithoutStateFileIsNamed() throws IOException {
    Path empty = Files.createDirectory(dir.resolve("empty"));
    String m = fails(() -> CheckpointReader.open(empty));
    assertTrue(m.startsWith(empty + ": directory has no 'checkpoint' file"), m);
  }

  private CheckpointReader.Entry entry(String name) {
    try (CheckpointReader r = CheckpointReader.open(prefix)) {
      return r.entry(name);
    }
  }

  /** An index with the header and one float entry "x" of 4 elements at offset 0. */
  private static byte[] table(BundleEntryProto x) {
    TableWriter t = new TableWriter();
    t.add(new byte[0], BundleHeaderProto.newBuilder().setNumShards(1).build().toByteArray());
    t.add(new byte[] {'x'}, x.toByteArray());
    return t.finish();
  }

  private static BundleEntryProto entryProto(int dtypeCode) {
    return BundleEntryProto.newBuilder().setDtypeValue(dtypeCode)
        .setShape(TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dim.newBuilder().setSize(4)))
        .setSize(16).build();
  }

  /** The first block starts at 0; the metaindex handle's offset in the footer is where it (and its trailer) ends. */
  private static int firstBlockSize(ByteBuffer table) {
    ByteBuffer footer = table.duplicate().position(table.capacity() - TableReader.FOOTER_LENGTH);
    return (int) Varint.read64(footer, Path.of("t"), "footer") - TableReader.TRAILER_LENGTH;
  }

  private static void flip(Path file, int offset) throws IOException {
    byte[] b = Files.readAllBytes(file);
    b[offset] ^= 0x40;
    Files.write(file, b);
  }

  private static String fails(Executable e) {
    return assertThrows(ConversionException.class, e).getMessage();
  }
}
