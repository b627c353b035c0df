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
}
