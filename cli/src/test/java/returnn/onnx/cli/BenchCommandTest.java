package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;

/** {@code bench --graph} end to end on a tiny LM: what it prints, not how fast anything is. */
class BenchCommandTest {
  @TempDir
  Path dir;

  @Test
  void benchPrintsTheUsersTableForAGraphAndItsCheckpoint() throws IOException {
    Fixture lm = LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false, LstmFixtures.Sizes.TEST);
    FixtureWriter.Written w = lm.write(dir, GraphFormat.META);
    Path data = dir.resolve("ids.txt");
    Files.writeString(data, "1 2 3 4 5 6\n7 8 9 1 2\n");
    Path plot = dir.resolve("bench.png");
    CliRunner.Run r = CliRunner.run("bench", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--data", data.toString(), "--repeat", "1", "--plot", plot.toString(), "--work-dir", dir.resolve("work").toString());
    assertEquals(0, r.exit(), r.out() + r.err());
    List<String> rows = r.out().lines().filter(l -> l.startsWith("| ") && !l.startsWith("| model")).toList();
    assertEquals(5, rows.size(), r.out());
    assertTrue(rows.get(0).startsWith("| TensorFlow (TF twin of the LSTM kernels)"), rows.get(0));
    assertTrue(rows.get(4).startsWith("| ONNX fused int8"), rows.get(4));
    assertEquals(perplexity(rows.get(0)), perplexity(rows.get(3)), "fp32 and TF agree: " + r.out());
    assertTrue(r.out().contains("fp32 perplexity vs TF:") && r.out().contains("equal to 4 significant digits: yes"), r.out());
    assertTrue(r.out().matches("(?s).*conversion: fused \\d+ ms, --no-fuse \\d+ ms; quantization: .*"), r.out());
    assertTrue(Files.size(plot) > 1000);
  }

  private static String perplexity(String row) {
    return row.split("\\|")[6].trim();
  }
}
