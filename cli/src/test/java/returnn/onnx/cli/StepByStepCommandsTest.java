package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ir.Tensor;
import returnn.onnx.runtime.Npy;

/**
 * {@code convert --step-by-step} and {@code decode} through the CLI on the zoo's RETURNN attention model: the decoded
 * labels are TF's search graph's decision (beam 4) and TF's step-by-step greedy labels (beam 1, up to EOS).
 */
class StepByStepCommandsTest {
  @TempDir
  Path dir;

  static Path model() {
    Path d = Path.of("").toAbsolutePath();
    while (d != null && !Files.isRegularFile(d.resolve("returnn-zoo/manifest.json"))) d = d.getParent();
    assertTrue(d != null, "returnn-zoo not found");
    return d.resolve("returnn-zoo/models/attention-encdec");
  }

  Path convert(String... extra) {
    Path m = model();
    Path out = dir.resolve("sbs" + extra.length);
    List<String> args = new ArrayList<>(List.of("convert", "--graph", m.resolve("rec_step_by_step.meta").toString(), "--checkpoint",
        m.resolve("net-model/network.020").toString(), "--step-by-step", "--output", out.toString()));
    args.addAll(List.of(extra));
    CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.out() + r.err());
    for (String f : List.of("state-initializer.onnx", "state-updater.onnx", "scorer.onnx", "rasr-label-scorer.config")) {
      assertTrue(Files.isRegularFile(out.resolve(f)), f);
    }
    return out;
  }

  List<String> decode(Path models, String... extra) {
    Path m = model();
    List<String> args = new ArrayList<>(List.of("decode", "--models", models.toString(), "--input",
        m.resolve("inputs/extern_data__placeholders__data__data.npy").toString(), "--lengths",
        m.resolve("inputs/extern_data__placeholders__data__data_dim0_size.npy").toString()));
    args.addAll(List.of(extra));
    CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.out() + r.err());
    List<String> labels = new ArrayList<>();
    for (String line : r.out().strip().split("\n")) labels.add(line.split("\t")[1]);
    return labels;
  }

  @Test
  void decodeGivesTfSearchAndGreedyLabels() throws IOException {
    Path models = convert();
    assertTrue(Files.readString(models.resolve("rasr-label-scorer.config")).contains("type = stateful-onnx"));
    // a label-synchronous model keeps RASR's defaults
    assertFalse(Files.readString(models.resolve("rasr-label-scorer.config")).contains("updates-history"));
    Path m = model();
    List<String> want = tfDecision(m);
    int width = (int) Npy.read(m.resolve("outputs/decision__output_batch_major.npy")).shape()[1];
    // TF's search graph runs max_seq_len = the longest encoder output (6 here)
    assertEquals(want, decode(models, "--beam", "4", "--max-steps", String.valueOf(width)));

    Tensor greedy = Npy.read(m.resolve("outputs/step_by_step__labels.npy"));
    int steps = (int) greedy.shape()[1];
    List<String> wantGreedy = new ArrayList<>();
    for (int b = 0; b < greedy.shape()[0]; b++) {
      StringBuilder s = new StringBuilder();
      for (int t = 0; t < steps && greedy.toInts()[b * steps + t] != 0; t++) s.append(s.length() > 0 ? " " : "").append(greedy.toInts()[b * steps + t]);
      wantGreedy.add(s.toString());
    }
    assertEquals(wantGreedy, decode(models, "--beam", "1", "--max-steps", String.valueOf(steps)));

    // the scorer giving costs (-log p, for RASR) decodes the same
    Path negated = convert("--negate-scores");
    assertTrue(Files.readString(negated.resolve("rasr-label-scorer.config")).contains("-log p (costs)"));
    assertTrue(Files.readString(negated.resolve("rasr-label-scorer.config")).contains("\nscale = 1.0\n"));
    assertTrue(Files.readString(models.resolve("rasr-label-scorer.config")).contains("\nscale = -1.0\n"));
    assertEquals(want, decode(negated, "--beam", "4", "--max-steps", String.valueOf(width)));
    // the split form (the cell run by scorer and updater) decodes the same; --against times both in one run
    Path split = convert("--step-by-step-form", "stateful-split");
    assertEquals(want, decode(split, "--beam", "4", "--max-steps", String.valueOf(width)));
    assertEquals(want, decode(models, "--beam", "4", "--max-steps", String.valueOf(width), "--repeat", "2", "--against", split.toString()));
  }

  /** The zoo's RNN-T: converts (the step index {@code i} is a state); decode gives TF's search graph's decision. */
  @Test
  void transducerDecodesAsTfSearch() throws IOException {
    Path m = model().resolveSibling("rnn-transducer");
    Path out = dir.resolve("rnnt");
    CliRunner.Run r = CliRunner.run("convert", "--graph", m.resolve("rec_step_by_step.meta").toString(), "--checkpoint",
        m.resolve("net-model/network.010").toString(), "--step-by-step", "--output", out.toString());
    assertEquals(0, r.exit(), r.out() + r.err());
    String cfg = Files.readString(out.resolve("rasr-label-scorer.config"));
    assertTrue(cfg.contains("stochastic_var_choice_output, i"), cfg);
    // RASR's stateful-onnx runs the updater on blank and loop transitions only with these (both default false)
    assertTrue(cfg.contains("\nblank-updates-history = true\n") && cfg.contains("\nloop-updates-history = true\n"), cfg);
    for (String[] c : new String[][] {{"rnn-transducer", "4"}, {"rnn-transducer-beam1", "1"}}) {
      Path tf = model().resolveSibling(c[0]);
      List<String> want = tfDecision(tf);
      r = CliRunner.run("decode", "--models", out.toString(), "--input", m.resolve("inputs/extern_data__placeholders__data__data.npy").toString(),
          "--lengths", m.resolve("inputs/extern_data__placeholders__data__data_dim0_size.npy").toString(), "--beam", c[1]);
      assertEquals(0, r.exit(), r.out() + r.err());
      List<String> got = new ArrayList<>();
      for (String line : r.out().strip().split("\n")) got.add(line.split("\t", -1)[1]);
      assertEquals(want, got, "beam " + c[1]);
    }
    r = CliRunner.run("decode", "--models", out.toString(), "--input", m.resolve("inputs/extern_data__placeholders__data__data.npy").toString(),
        "--max-steps", "3");
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("error: ") && r.err().strip().lines().count() == 1, r.err());
  }

  @Test
  void decodeRunsToTheEncoderLengthByDefault() {
    // conformer-encdec: 4x subsampling, 23 input frames, encoder length 6 = its search graph's max_seq_len. One of TF's
    // beams runs all 6 steps; run for the 23 frames instead, the search ranks differently (sequence 0: 8 5 5 7 3 7,
    // not TF's 8 5 7 3 7). Without --max-steps decode runs to the encoder length and gives TF's decision.
    Path m = model().resolveSibling("conformer-encdec");
    Path out = dir.resolve("conformer");
    CliRunner.Run r = CliRunner.run("convert", "--graph", m.resolve("rec_step_by_step.meta").toString(), "--checkpoint",
        m.resolve("net-model/network.020").toString(), "--step-by-step", "--output", out.toString());
    assertEquals(0, r.exit(), r.out() + r.err());
    List<String> want = tfDecision(m);
    List<String> args = List.of("decode", "--models", out.toString(), "--input",
        m.resolve("inputs/extern_data__placeholders__data__data.npy").toString(), "--lengths",
        m.resolve("inputs/extern_data__placeholders__data__data_dim0_size.npy").toString(), "--beam", "4");
    List<String> got = new ArrayList<>();
    r = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.out() + r.err());
    for (String line : r.out().strip().split("\n")) got.add(line.split("\t", -1)[1]);
    assertEquals(want, got);
    List<String> frames = new ArrayList<>(args);
    frames.addAll(List.of("--max-steps", "23"));
    r = CliRunner.run(frames.toArray(String[]::new));
    assertEquals(0, r.exit(), r.out() + r.err());
    assertTrue(!r.out().strip().split("\n")[0].split("\t", -1)[1].equals(want.get(0)), "23 steps should rank differently: " + r.out());
  }

  @Test
  void badInputIsOneErrorLine() {
    Path m = model();
    CliRunner.Run r = CliRunner.run("convert", "--graph", m.resolve("rec_step_by_step.meta").toString(), "--checkpoint",
        m.resolve("net-model/network.020").toString(), "--step-by-step", "--step-by-step-info", m.resolve("entry.json").toString(),
        "--output", dir.resolve("x").toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("error: ") && r.err().strip().lines().count() == 1, r.err());
    r = CliRunner.run("convert", "--graph", m.resolve("graph.meta").toString(), "--checkpoint", m.resolve("net-model/network.020").toString(),
        "--step-by-step", "--step-by-step-info", m.resolve("rec_step_by_step.json").toString(), "--output", dir.resolve("y").toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("error: ") && r.err().contains("IO/"), r.err());
    r = CliRunner.run("convert", "--graph", m.resolve("rec_step_by_step.meta").toString(), "--checkpoint",
        m.resolve("net-model/network.020").toString(), "--step-by-step", "--step-by-step-form", "managed", "--output", dir.resolve("z").toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("error: ") && r.err().contains("--step-by-step-form"), r.err());
    assertFalse(Files.exists(dir.resolve("z").resolve("scorer.onnx")));
    Path garbage = dir.resolve("garbage.json");
    try {
      Files.writeString(garbage, "{\"init_op\": [1, 2");
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    r = CliRunner.run("convert", "--graph", m.resolve("rec_step_by_step.meta").toString(), "--checkpoint",
        m.resolve("net-model/network.020").toString(), "--step-by-step", "--step-by-step-info", garbage.toString(),
        "--output", dir.resolve("z").toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("error: ") && r.err().strip().lines().count() == 1, r.err());
    assertTrue(!Files.exists(dir.resolve("z").resolve("scorer.onnx")));
    r = CliRunner.run("convert", "--graph", m.resolve("rec_step_by_step.meta").toString(), "--checkpoint",
        m.resolve("net-model/network.020").toString(), "--step-by-step", "--state", "--output", dir.resolve("w").toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("error: "), r.err());
    try {
      Files.createDirectories(dir.resolve("real"));
      Files.createSymbolicLink(dir.resolve("link"), dir.resolve("real"));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    r = CliRunner.run("convert", "--graph", m.resolve("rec_step_by_step.meta").toString(), "--checkpoint",
        m.resolve("net-model/network.020").toString(), "--step-by-step", "--output", dir.resolve("link").toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("error: ") && r.err().contains("symbolic link"), r.err());
    r = CliRunner.run("decode", "--models", dir.resolve("none").toString(), "--input", m.resolve("inputs/extern_data__placeholders__data__data.npy").toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("error: "), r.err());
  }

  /** TF's search decision of a zoo model, one line of label ids per sequence (its recorded decision and lengths). */
  private static List<String> tfDecision(Path model) {
    Tensor decision = Npy.read(model.resolve("outputs/decision__output_batch_major.npy"));
    int[] lens = Npy.read(model.resolve("outputs/decision__GatherNd.npy")).toInts();
    int width = (int) decision.shape()[1];
    List<String> want = new ArrayList<>();
    for (int b = 0; b < lens.length; b++) {
      StringBuilder s = new StringBuilder();
      for (int t = 0; t < lens[b]; t++) s.append(t > 0 ? " " : "").append(decision.toInts()[b * width + t]);
      want.add(s.toString());
    }
    return want;
  }
}
