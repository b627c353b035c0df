package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.fixtures.lstm.LstmTwin;
import returnn.onnx.fixtures.transformer.TransformerFixtures;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.Npy;
import returnn.onnx.runtime.TimeChunks;
import returnn.onnx.verify.Comparison;

/**
 * {@code convert --state}, then {@code run}, {@code score} and {@code stream} through the CLI, checked against
 * TensorFlow: run writes every output (final states included) as .npy and continues from given states; score's
 * perplexity is TensorFlow's and the same for any chunk size; stream's joined output is the full run's.
 */
class StateCommandsTest {
  static final String DATA = "extern_data/placeholders/data/data";
  static final String LENGTHS = "extern_data/placeholders/data/data_dim0_size";
  static final String OUTPUT = "output/output_batch_major";

  @TempDir
  Path dir;

  /** Converts with --state through the CLI; returns the model path. */
  Path convert(Fixture f, FixtureWriter.Written w) {
    Path onnx = dir.resolve(f.name() + ".onnx");
    CliRunner.Run r = CliRunner.run("convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--outputs", f.outputs().get(0), "--output", onnx.toString(), "--state");
    assertEquals(0, r.exit(), r.out() + r.err());
    assertTrue(r.out().contains("state: "), r.out());
    return onnx;
  }

  @Test
  void runWritesOutputsAndFinalStatesAndContinuesFromGivenStates() throws IOException {
    Fixture f = LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false, LstmFixtures.Sizes.TEST);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Path onnx = convert(f, w);
    int[] lengths = {6, 3};
    Map<String, Tensor> feeds = f.randomFeeds(9, lengths);
    Tensor data = feeds.get(DATA + ":0");
    Tensor tf = TfReference.run(LstmTwin.of(f.graph()), w.checkpointPrefix(), feeds, List.of(OUTPUT + ":0")).get(OUTPUT + ":0");

    Path first = dir.resolve("first");
    CliRunner.Run r = run(onnx, first, Map.of(DATA, TimeChunks.slice(data, 0, 4), LENGTHS, TimeChunks.lengths(lengths, 0, 4)));
    assertTrue(r.out().contains("lstm1/rec/last_state_c float[2, 24]"), r.out());
    Map<String, Tensor> second = new LinkedHashMap<>(Map.of(DATA + ":0", TimeChunks.slice(data, 4, 6),
        LENGTHS, TimeChunks.lengths(lengths, 4, 6)));
    for (String layer : List.of("lstm0", "lstm1")) {
      for (String k : List.of("h", "c")) {
        second.put(layer + "/rec/initial_state_placeholder_" + k, Npy.read(first.resolve(layer + "/rec/last_state_" + k + ".npy")));
      }
    }
    Path next = dir.resolve("second");
    run(onnx, next, second);
    Tensor joined = TimeChunks.concat(List.of(Npy.read(first.resolve(OUTPUT + ".npy")), Npy.read(next.resolve(OUTPUT + ".npy"))));
    assertClose(tf, joined, "two run calls, states passed by .npy, vs TF");

    CliRunner.Run bad = CliRunner.run("run", "--onnx", onnx.toString(), "--input", "nope=" + first.resolve(OUTPUT + ".npy"),
        "--output-dir", dir.toString());
    assertEquals(1, bad.exit());
    assertTrue(bad.err().contains("the model has no input 'nope'"), bad.err());
  }

  private CliRunner.Run run(Path onnx, Path outDir, Map<String, Tensor> inputs) {
    List<String> args = new ArrayList<>(List.of("run", "--onnx", onnx.toString(), "--output-dir", outDir.toString()));
    int i = 0;
    for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
      Path p = dir.resolve("in" + (i++) + ".npy");
      Npy.write(p, e.getValue());
      args.addAll(List.of("--input", e.getKey() + "=" + p));
    }
    CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.out() + r.err());
    return r;
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"lstm_lm", "transformer_lm_state"})
  void scoreGivesTensorFlowsPerplexityForAnyChunkSize(String model) throws IOException {
    boolean lstm = model.startsWith("lstm");
    Fixture f = lstm ? LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false, LstmFixtures.Sizes.TEST)
        : TransformerFixtures.causalLm(VariableKind.RESOURCE, 2, true);
    int vocabSize = lstm ? LstmFixtures.Sizes.TEST.vocab() : 11;
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Path onnx = convert(f, w);
    // RETURNN's form: both sentence boundaries on id 0, the unknown label last, a word with a quote in it.
    StringBuilder vocab = new StringBuilder("{'<s>': 0,\n '</s>': 0,\n \"don't\": 1,\n");
    for (int i = 2; i < vocabSize - 1; i++) vocab.append(" 'w").append(i).append("': ").append(i).append(",\n");
    vocab.append(" '<unk>': ").append(vocabSize - 1).append("}\n");
    Path vocabFile = dir.resolve("vocab.txt");
    Files.writeString(vocabFile, vocab);
    List<String> sentences = List.of("w2 don't w5 w3 w7 w2 w9", "w4 unknownword w6", "", "don't");
    Path text = dir.resolve("text.txt");
    Files.writeString(text, String.join("\n", sentences) + "\n");

    String expected = String.format("perplexity: %.4f", tensorFlowPerplexity(f, w, lstm, List.of(
        new int[] {0, 2, 1, 5, 3, 7, 2, 9}, new int[] {0, 4, vocabSize - 1, 6}, new int[] {0, 1})));
    for (String chunk : List.of("1", "2", "7", "0")) {
      CliRunner.Run r = CliRunner.run("score", "--onnx", onnx.toString(), "--text", text.toString(), "--vocab",
          vocabFile.toString(), "--chunk", chunk);
      assertEquals(0, r.exit(), r.out() + r.err());
      assertTrue(r.out().contains(expected + "\n"), "chunk " + chunk + ": expected " + expected + " in\n" + r.out());
      assertTrue(r.out().contains("sentences: 3, tokens: 14 (</s> included), unknown words: 1"), r.out());
      assertTrue(r.out().contains("tokens/s") && r.out().contains("per-call latency"), r.out());
    }
  }

  /** exp(-mean log p) of the targets (ids shifted by one, then </s> = 0) with TF running each sentence alone. */
  private static double tensorFlowPerplexity(Fixture f, FixtureWriter.Written w, boolean lstm, List<int[]> inputs) {
    double logProb = 0;
    int tokens = 0;
    try (TfReference tf = TfReference.open(lstm ? LstmTwin.of(f.graph()) : f.graph(), w.checkpointPrefix())) {
      for (int[] in : inputs) {
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put(DATA + ":0", Tensor.ofInts(new long[] {1, in.length}, in));
        feeds.put(LENGTHS + ":0", Tensor.ofInts(new long[] {1}, in.length));
        List<String> fetches = List.of(OUTPUT + ":0");
        if (!lstm) {
          for (String l : List.of("dec_01", "dec_02")) {
            for (String k : List.of("k_left", "v_left")) {
              feeds.put(l + "_self_att/initial_state_placeholder_" + k + ":0", Tensor.fromDoubles(DType.FLOAT, new long[] {1, 2, 0, 8}, new double[0]));
            }
          }
        }
        Tensor probs = tf.run(feeds, fetches).get(OUTPUT + ":0");
        long v = probs.shape()[2];
        for (int t = 0; t < in.length; t++) logProb += Math.log(probs.getDouble(t * v + (t + 1 < in.length ? in[t + 1] : 0)));
        tokens += in.length;
      }
    }
    return Math.exp(-logProb / tokens);
  }

  @Test
  void streamJoinsChunksIntoTheFullRun() throws IOException {
    Fixture f = LstmFixtures.lstmStack(VariableKind.RESOURCE, 10, 12, 2);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Path onnx = convert(f, w);
    int time = 9;
    Random rnd = new Random(4);
    double[] v = new double[time * 10];
    for (int i = 0; i < v.length; i++) v[i] = rnd.nextGaussian();
    Tensor feats = Tensor.fromDoubles(DType.FLOAT, new long[] {time, 10}, v);
    Path featsFile = dir.resolve("feats.npy");
    Npy.write(featsFile, feats);
    Map<String, Tensor> feeds = Map.of(DATA + ":0", feats.reshape(new long[] {1, time, 10}), LENGTHS + ":0",
        Tensor.ofInts(new long[] {1}, time));
    String out = f.outputs().get(0);
    Tensor tf = TfReference.run(LstmTwin.of(f.graph()), w.checkpointPrefix(), feeds, List.of(out)).get(out);
    for (String chunk : List.of("1", "4", "9")) {
      Path joined = dir.resolve("stream" + chunk + ".npy");
      CliRunner.Run r = CliRunner.run("stream", "--onnx", onnx.toString(), "--input", featsFile.toString(), "--chunk", chunk,
          "--output", joined.toString());
      assertEquals(0, r.exit(), r.out() + r.err());
      assertTrue(r.out().contains("per-chunk latency: mean") && r.out().contains("frames/s"), r.out());
      assertClose(tf, Npy.read(joined), "stream --chunk " + chunk + " vs TF");
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(booleans = {false, true})
  void verifyFeedsTensorFlowFreshStatesAndSkipsStatesItDoesNotHave(boolean placeholders) {
    Fixture f = TransformerFixtures.causalLm(VariableKind.RESOURCE, 2, placeholders);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Path onnx = convert(f, w);
    CliRunner.Run r = CliRunner.run("verify", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--onnx", onnx.toString());
    assertEquals(0, r.exit(), r.out() + r.err());
    assertTrue(r.out().contains("OK   " + OUTPUT), r.out());
    assertEquals(placeholders, r.out().contains("OK   dec_02_self_att/last_state_v_left"), r.out());
  }

  @Test
  void modelsWithoutStateMappingAreRejectedClearly() throws IOException {
    Fixture f = LstmFixtures.lstmStack(VariableKind.RESOURCE, 10, 12, 1);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Path onnx = dir.resolve("plain.onnx");
    assertEquals(0, CliRunner.run("convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--outputs", f.outputs().get(0), "--output", onnx.toString()).exit());
    Path feats = dir.resolve("feats.npy");
    Npy.write(feats, Tensor.fromDoubles(DType.FLOAT, new long[] {3, 10}, new double[30]));
    CliRunner.Run r = CliRunner.run("stream", "--onnx", onnx.toString(), "--input", feats.toString(), "--chunk", "2");
    assertEquals(1, r.exit());
    assertTrue(r.err().contains("no returnn_onnx.state metadata; convert the model with --state"), r.err());
  }

  static void assertClose(Tensor expected, Tensor actual, String what) {
    Comparison c = Comparison.of(what, expected, actual);
    assertTrue(c.ok(1e-5, expected.dtype()), c.toString());
  }
}
