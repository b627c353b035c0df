package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.fixtures.lstm.LstmTwin;
import returnn.onnx.fixtures.transformer.TransformerFixtures;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.verify.Comparison;

/**
 * {@code convert --rasr-config}: the fragment for an LSTM LM, a Transformer LM and a BLSTM acoustic model names only
 * inputs and outputs the model has (checked in ONNX Runtime), the right state manager and output transformation, and is
 * printed in the report; {@code --log-softmax-output} gives TensorFlow's log-probabilities.
 */
class RasrConfigTest {
  @TempDir
  Path dir;

  record Converted(Path onnx, String fragment, String out, Path checkpoint) {}

  Converted convert(Fixture f, String... extra) throws IOException {
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Path onnx = dir.resolve(f.name() + ".onnx");
    Path rasr = dir.resolve(f.name() + ".rasr.config");
    List<String> args = new ArrayList<>(List.of("convert", "--graph", w.graph().toString(), "--checkpoint",
        w.checkpointPrefix().toString(), "--outputs", f.outputs().get(0), "--output", onnx.toString(), "--rasr-config", rasr.toString()));
    args.addAll(List.of(extra));
    CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.out() + r.err());
    String fragment = Files.readString(rasr);
    assertTrue(r.out().contains("rasr config (" + rasr + "):\n" + fragment), r.out());
    try (OnnxSession s = OnnxSession.open(onnx, OnnxSession.Options.singleThread())) {
      List<String> names = new ArrayList<>(s.inputNames());
      names.addAll(s.outputNames());
      List<String> io = RasrConfig.ioMapNames(fragment);
      assertFalse(io.isEmpty(), fragment);
      for (String n : io) assertTrue(names.contains(n), "io-map names " + n + ", which the model lacks: " + names + "\n" + fragment);
    }
    return new Converted(onnx, fragment, r.out(), w.checkpointPrefix());
  }

  @Test
  void lstmLanguageModelWithLogSoftmaxOutput() throws IOException {
    Fixture f = LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false, LstmFixtures.Sizes.TEST);
    Converted c = convert(f, "--state", "--log-softmax-output");
    assertTrue(c.fragment().contains("[*.lm]\ntype                    = onnx\ntransform-output-log    = false\ntransform-output-negate = true\n"), c.fragment());
    assertTrue(c.fragment().contains("word        = extern_data/placeholders/data/data\n"), c.fragment());
    assertTrue(c.fragment().contains("word-length = extern_data/placeholders/data/data_dim0_size\n"), c.fragment());
    assertTrue(c.fragment().contains("nn-output   = output/output_batch_major\n"), c.fragment());
    assertTrue(c.fragment().contains("[*.lm.state-manager]\ntype = lstm\n"), c.fragment());
    assertFalse(c.fragment().contains("prefix-length"), c.fragment());
    assertTrue(c.out().contains("log-softmax output: output/output_batch_major (Softmax → LogSoftmax)"), c.out());

    int[] lengths = {6, 3};
    Map<String, Tensor> feeds = f.randomFeeds(2, lengths);
    Tensor tf = TfReference.run(LstmTwin.of(f.graph()), c.checkpoint(), feeds,
        List.of(Fixtures.OUTPUT)).get(Fixtures.OUTPUT);
    float[] logTf = tf.toFloats();
    for (int i = 0; i < logTf.length; i++) logTf[i] = (float) Math.log(logTf[i]);
    try (OnnxSession s = OnnxSession.open(c.onnx(), OnnxSession.Options.singleThread())) {
      Map<String, Tensor> in = new java.util.LinkedHashMap<>();
      in.put(Fixtures.DATA, feeds.get(Fixtures.DATA + ":0"));
      in.put(Fixtures.DATA_LENGTHS, feeds.get(Fixtures.DATA_LENGTHS + ":0"));
      for (String n : s.inputNames()) {
        if (n.contains("initial_state_placeholder")) in.put(n, Tensor.ofFloats(new long[] {2, 24}, new float[48]));
      }
      Tensor got = s.run(in).get("output/output_batch_major");
      Comparison cmp = Comparison.of("log-softmax", Tensor.ofFloats(tf.shape(), logTf), got);
      assertTrue(cmp.ok(1e-5, tf.dtype()), cmp.toString());
      // The probabilities themselves would be far off: the check can fail.
      assertFalse(Comparison.of("softmax", tf, got).ok(1e-5, tf.dtype()));
    }
  }

  @Test
  void transformerLanguageModelGetsPrefixLengthAndWordLength() throws IOException {
    Converted c = convert(TransformerFixtures.causalLm(VariableKind.RESOURCE, 2, false), "--state");
    assertTrue(c.fragment().contains("transform-output-log    = true\ntransform-output-negate = true\n"), c.fragment());
    assertTrue(c.fragment().contains("prefix-length = prefix-length\n"), c.fragment());
    assertTrue(c.fragment().contains("word-length   = extern_data/placeholders/data/data_dim0_size\n"), c.fragment());
    assertTrue(c.fragment().contains("[*.lm.state-manager]\ntype = transformer\n"), c.fragment());
    assertTrue(c.out().contains("added as an input the model does not read"), c.out());
  }

  @Test
  void blstmAcousticModel() throws IOException {
    Converted c = convert(LstmFixtures.biLstm(VariableKind.RESOURCE));
    String expected = """
        [*.mixture-set]
        feature-scorer-type = onnx-feature-scorer
        apply-log-on-output = true
        negate-output       = true
        """;
    assertTrue(c.fragment().contains(expected), c.fragment());
    assertTrue(c.fragment().contains("features      = extern_data/placeholders/data/data\n"), c.fragment());
    assertTrue(c.fragment().contains("features-size = extern_data/placeholders/data/data_dim0_size\n"), c.fragment());
    assertTrue(c.fragment().contains("output        = output/output_batch_major\n"), c.fragment());
    assertTrue(c.fragment().contains("file                 = " + c.onnx() + "\nintra-op-num-threads = 1\n"), c.fragment());
  }

  @Test
  void languageModelWithoutStateIsAnError() throws IOException {
    Fixture f = LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false, LstmFixtures.Sizes.TEST);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    CliRunner.Run r = CliRunner.run("convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--output", dir.resolve("lm.onnx").toString(), "--rasr-config", dir.resolve("lm.config").toString());
    assertEquals(1, r.exit());
    assertEquals("error: --rasr-config: a model over labels is a RASR language model, which carries its state: convert with --state\n", r.err());
    assertFalse(Files.exists(dir.resolve("lm.onnx")), "nothing written");
  }

  @Test
  void stateDefaultsNeedState() throws IOException {
    Fixture f = LstmFixtures.biLstm(VariableKind.RESOURCE);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    CliRunner.Run r = CliRunner.run("convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--output", dir.resolve("am.onnx").toString(), "--state-defaults");
    assertEquals(1, r.exit());
    assertEquals("error: --state-defaults needs --state\n", r.err());
    r = CliRunner.run("convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--output", dir.resolve("am.onnx").toString(), "--ort-version", "2.0");
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("error: --ort-version '2.0' is not an ONNX Runtime version"), r.err());
    r = CliRunner.run("convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--output", dir.resolve("am.onnx").toString(), "--opset", "21");
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("warning: opset 21 needs ONNX Runtime 1.17 or later; the model will not load in 1.15"), r.out());
  }
}
