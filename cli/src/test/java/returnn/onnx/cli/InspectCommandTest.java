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
}
