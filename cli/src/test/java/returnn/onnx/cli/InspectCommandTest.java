package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;

class InspectCommandTest {
  @TempDir
  Path dir;

  @Test
  void graphAndCheckpoint() {
    FixtureWriter.Written w = Fixtures.linearSoftmax(VariableKind.TF1).write(dir, GraphFormat.META);
    CliRunner.Run g = CliRunner.run("inspect", w.graph().toString());
    assertEquals(0, g.exit(), g.err());
    assertTrue(g.out().contains("extern_data/placeholders/data/data  float[?, ?, 8]"), g.out());
    assertTrue(g.out().contains("output/output_batch_major"), g.out());
    assertTrue(g.out().contains("unsupported ops: none"), g.out());
    CliRunner.Run c = CliRunner.run("inspect", w.checkpointPrefix().toString());
    assertEquals(0, c.exit(), c.err());
    assertTrue(c.out().contains("output/W"), c.out());
    assertTrue(c.out().contains("global_step"), c.out());
  }

  /**
   * The index has every name, dtype and shape: with the data shard gone (TF wrote this checkpoint), inspect lists
   * the same tensors as with it and names the missing shard; convert still says the shard is missing.
   */
  @Test
  void checkpointWithoutItsDataShardIsListedFromTheIndex() throws Exception {
    FixtureWriter.Written w = Fixtures.linearSoftmax(VariableKind.TF1).write(dir, GraphFormat.META);
    CliRunner.Run full = CliRunner.run("inspect", w.checkpointPrefix().toString());
    assertEquals(0, full.exit(), full.err());
    Path shard = Path.of(w.checkpointPrefix() + ".data-00000-of-00001");
    java.nio.file.Files.delete(shard);
    CliRunner.Run c = CliRunner.run("inspect", w.checkpointPrefix().toString());
    assertEquals(0, c.exit(), c.err());
    java.util.List<String> listed = c.out().lines().filter(l -> l.startsWith("  ")).toList();
    assertEquals(full.out().lines().filter(l -> l.startsWith("  ")).toList(), listed);
    assertTrue(listed.stream().anyMatch(l -> l.matches("  output/W +float +\\[12, 5\\]")), c.out());
    assertTrue(c.out().contains("note: data shard missing: " + shard), c.out());
    CliRunner.Run conv = CliRunner.run("convert", "--graph", w.graph().toString(), "--checkpoint",
        w.checkpointPrefix().toString(), "--output", dir.resolve("m.onnx").toString());
    assertEquals(1, conv.exit());
    assertTrue(conv.err().contains(shard + ": checkpoint data shard not found"), conv.err());
  }

  /** Two shards under a snappy-compressed index, one missing: listed, that one named. */
  @Test
  void shardedSnappyCheckpointWithAShardMissing() throws Exception {
    java.util.Map<String, returnn.onnx.ir.Tensor> vars = new java.util.TreeMap<>();
    for (int i = 0; i < 8; i++) vars.put("lstm" + i + "_fw/rec/W_re", returnn.onnx.ir.Tensor.ofFloats(new long[] {2, 3}, new float[6]));
    Path prefix = dir.resolve("s/epoch.001");
    returnn.onnx.tf.checkpoint.CheckpointWriter.write(prefix, vars, 2, true);
    Path shard1 = Path.of(prefix + ".data-00001-of-00002");
    java.nio.file.Files.delete(shard1);
    CliRunner.Run c = CliRunner.run("inspect", prefix.toString());
    assertEquals(0, c.exit(), c.err());
    assertTrue(c.out().contains("(8 tensors)") && c.out().contains("lstm7_fw/rec/W_re"), c.out());
    assertTrue(c.out().contains("note: data shard missing: " + shard1 + ";"), c.out());
  }

  /**
   * A snappy block whose bytes are garbled but whose checksum matches (so only the decoder can tell): inspect and
   * convert say so in one error line naming the index, exit 1, no stack trace.
   */
  @Test
  void garbledSnappyBlockIsOneErrorLine() throws Exception {
    java.util.Map<String, returnn.onnx.ir.Tensor> vars = new java.util.TreeMap<>();
    for (int i = 0; i < 8; i++) vars.put("lstm" + i + "_fw/rec/W_re", returnn.onnx.ir.Tensor.ofFloats(new long[] {2}, i, -i));
    Path prefix = dir.resolve("g/epoch.001");
    returnn.onnx.tf.checkpoint.CheckpointWriter.write(prefix, vars, 1, true);
    Path index = Path.of(prefix + ".index");
    byte[] b = java.nio.file.Files.readAllBytes(index);
    java.nio.ByteBuffer footer = java.nio.ByteBuffer.wrap(b, b.length - 48, 48);
    int end = 0; // the first block ends where the metaindex starts: the footer's first varint
    for (int shift = 0, x; ; shift += 7) {
      x = footer.get() & 0xff;
      end |= (x & 0x7f) << shift;
      if (x < 0x80) break;
    }
    int n = end - 5;
    assertEquals(1, b[n], "the first block is snappy-compressed");
    b[0] = (byte) 0x7f; // the declared length no longer matches what the block decodes to
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    crc.update(b, 0, n + 1);
    int c = (int) crc.getValue();
    java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(n + 1, ((c >>> 15) | (c << 17)) + 0xa282ead8);
    java.nio.file.Files.write(index, b);
    CliRunner.Run r = CliRunner.run("inspect", prefix.toString());
    assertEquals(1, r.exit(), r.out());
    assertTrue(r.err().startsWith("error: " + index + ": data block at offset 0: "), r.err());
    assertTrue(r.err().contains("snappy"), r.err());
    assertEquals(1, r.err().lines().filter(l -> !l.isBlank()).count(), r.err());
    assertTrue(!r.err().contains("\tat "), r.err());
  }
}
