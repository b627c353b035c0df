package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.loops.LoopFixtures;

/**
 * Loop fixtures through the CLI as a user runs it: {@code convert} (the report's ONNX op histogram lists the Loop and
 * the control-flow rule fired, with and without {@code --no-fuse}), then {@code verify} against TensorFlow on generated
 * padded inputs.
 */
class LoopFixturesTest {
  @TempDir
  Path dir;

  @ParameterizedTest(name = "{0} {1} {2}")
  @CsvSource({"vanillalstm_bw, RESOURCE, META, true", "standardlstm_fw, TF1, PB, false", "rec_subnetwork, TF1, METATXT, true",
      "greedy_decoder, RESOURCE, PBTXT, true"})
  void convertReportsTheLoopAndVerifies(String name, VariableKind kind, GraphFormat format, boolean fuse) {
    Fixture f = LoopFixtures.all(kind).stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
    FixtureWriter.Written w = f.write(dir, format);
    Path onnx = dir.resolve(name + ".onnx");
    List<String> args = new ArrayList<>(List.of("convert", "--graph", w.graph().toString(), "--checkpoint",
        w.checkpointPrefix().toString(), "--output", onnx.toString(), "--outputs", String.join(",", f.outputs())));
    if (!fuse) args.add("--no-fuse");
    CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.err());
    // With fusion the dynamic_rnn LSTM loops become one ONNX LSTM (LoopLstmRule); the others stay Loops.
    boolean fusedLstm = fuse && name.contains("lstm_");
    assertEquals(fusedLstm ? 0 : 1, histogramCount(r.out(), "Loop"), r.out());
    assertEquals(fusedLstm ? 1 : 0, histogramCount(r.out(), "LSTM"), r.out());
    assertTrue(r.out().matches("(?s).*ControlFlowRules.WHILE_LOOPS\\s+1\\n.*"), r.out());
    assertTrue(histogramCount(r.out(), "TensorArrayV3") > 0, "the TF side of the histogram shows the TensorArrays");

    CliRunner.Run v = CliRunner.run("verify", "--graph", w.graph().toString(), "--checkpoint",
        w.checkpointPrefix().toString(), "--onnx", onnx.toString(), "--batch", "4", "--time", "6");
    assertEquals(0, v.exit(), v.out() + v.err());
    assertTrue(v.out().contains("verify: PASS"), v.out());
  }

  /** The count of {@code op} in the report's histogram table (TF column or ONNX column), 0 if absent. */
  static int histogramCount(String report, String op) {
    Matcher m = Pattern.compile("(?m)(?:^|\\s)" + Pattern.quote(op) + "\\s+(\\d+)").matcher(report);
    return m.find() ? Integer.parseInt(m.group(1)) : 0;
  }
}
