package returnn.onnx.verify.controlflow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.loops.LoopFixtures;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Comparison;
import returnn.onnx.verify.OnnxChecker;
import returnn.onnx.verify.Verifier;

/**
 * Every loop fixture, both variable kinds, converted (with and without fusion, from {@code .pb} with TF's shape hints
 * and from {@code .meta} without) and compared with TensorFlow running the original graph on padded batches with a
 * zero-length sequence: fp32 to 1e-5, labels and lengths exactly. The Loop/If counts and the ONNX structure are checked
 * too.
 */
class LoopFixtureParityTest {
  @TempDir
  Path dir;

  /** Padded batches: a zero-length sequence among others; lengths 0..max, time axis = the longest. */
  static final int[][] BATCHES = {{5, 0, 3, 7}, {2, 0, 1}};

  static Stream<Arguments> cases() {
    List<Arguments> l = new ArrayList<>();
    for (VariableKind k : VariableKind.values()) {
      for (Fixture f : LoopFixtures.all(k)) l.add(Arguments.of(f.name(), k));
    }
    return l.stream();
  }

  static Fixture fixture(String name, VariableKind kind) {
    return LoopFixtures.all(kind).stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void matchesTensorFlow(String name, VariableKind kind) {
    Fixture f = fixture(name, kind);
    boolean dropout = name.startsWith("train_flag");
    // Both batches from .pb with fusion; the resource-variable graphs also without fusion and from .meta (no shape hints).
    List<Run> runs = new ArrayList<>(List.of(new Run(GraphFormat.PB, true, BATCHES)));
    if (kind == VariableKind.RESOURCE) {
      runs.add(new Run(GraphFormat.PB, false, new int[][] {BATCHES[0]}));
      runs.add(new Run(GraphFormat.META, true, new int[][] {BATCHES[1]}));
    }
    for (Run run : runs) {
      FixtureWriter.Written w = f.write(dir.resolve(run.format().name()), run.format());
      Converter.Result r = Converter.convert(
          ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withFuse(run.fuse()));
      assertEquals(List.of(), ControlFlowStructure.problems(r.graph()));
      // The dynamic_rnn LSTM loops fuse into ONNX LSTM (LoopLstmFusionTest); the others stay Loops (the beam search:
      // its decoder loop and its resolve loop).
      boolean fusedLstm = run.fuse() && name.contains("lstm_");
      int loops = dropout || fusedLstm ? 0 : name.equals("beam_search") ? 2 : 1;
      assertEquals(loops, r.graph().count("Loop"), r.graph().opHistogram().toString());
      assertEquals(fusedLstm ? 1 : 0, r.graph().count("LSTM"), r.graph().opHistogram().toString());
      assertEquals(dropout ? 1 : 0, r.graph().count("If"), r.graph().opHistogram().toString());
      Path onnx = dir.resolve(name + run.format() + run.fuse() + ".onnx");
      r.write(onnx);
      assertNull(OnnxChecker.check(onnx)); // opset 17: within what Debian's onnx checker knows
      for (int[] lengths : run.batches()) {
        Verifier.Report rep = verify(f, w, onnx, feeds(f, lengths));
        assertTrue(rep.ok(), run + " lengths " + Arrays.toString(lengths) + "\n" + rep.format());
      }
    }
  }

  private record Run(GraphFormat format, boolean fuse, int[][] batches) {
    @Override
    public String toString() {
      return format + (fuse ? "" : " --no-fuse");
    }
  }

  /**
   * A time axis longer than every sequence: {@code dynamic_rnn} then runs only max(length) steps while its arrays hold
   * T elements, and stacking reads the unwritten ones as zeros; the Loop's scan output is padded to match.
   */
  @Test
  void dynamicRnnPadsUnwrittenStepsWithZeros() {
    Fixture f = LoopFixtures.standardLstm(VariableKind.RESOURCE, false);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Path onnx = dir.resolve("m.onnx");
    Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withFuse(false)).write(onnx);
    Map<String, Tensor> feeds = feeds(f, 6, 0, 2);
    feeds.put("extern_data/placeholders/data/data_dim0_size", Tensor.ofInts(new long[] {3}, 4, 0, 2));
    Verifier.Report rep = verify(f, w, onnx, feeds);
    assertTrue(rep.ok(), rep.format());
    Comparison lstm = rep.comparisons().get(1);
    assertEquals(3 * 6 * 8, lstm.count());
  }

  /** The decoder's batches end at different steps, all before {@code maximum_iterations}; a short batch hits it. */
  @Test
  void decoderStopsWhenAllSequencesEndedOrAtMaximumIterations() {
    Fixture f = LoopFixtures.greedyDecoder(VariableKind.TF1);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Path onnx = dir.resolve("dec.onnx");
    Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs())).write(onnx);
    try (OnnxSession s = OnnxSession.open(onnx, OnnxSession.Options.defaults())) {
      Tensor ended = s.run(feeds(f, BATCHES[0])).get(TensorRef.parse(LoopFixtures.DECODER_LENGTHS).onnxName());
      long[] lengths = ended.toLongs();
      assertTrue(Arrays.stream(lengths).distinct().count() > 2, Arrays.toString(lengths));
      assertTrue(Arrays.stream(lengths).max().getAsLong() < 14, "all end before 2 * max(seq_len): " + Arrays.toString(lengths));
      Tensor capped = s.run(feeds(f, 1, 0, 1)).get(TensorRef.parse(LoopFixtures.DECODER_LENGTHS).onnxName());
      assertEquals(2, Arrays.stream(capped.toLongs()).max().getAsLong(), "stopped by maximum_iterations = 2");
    }
    for (int[] lengths : new int[][] {BATCHES[0], {1, 0, 1}}) {
      Verifier.Report rep = verify(f, w, onnx, feeds(f, lengths));
      assertTrue(rep.ok(), rep.format());
    }
  }

  /**
   * The beam search's second loop reads the arrays the first wrote (labels, backpointers) as Gathers of the first
   * Loop's scan outputs and writes at a count-down index; the resolved labels match TensorFlow exactly, on batches
   * where the hypotheses of a sequence differ (the backpointers reorder them) and with a zero-length sequence.
   */
  @Test
  void beamSearchResolvesItsLabelsInASecondLoop() {
    Fixture f = LoopFixtures.beamSearch(VariableKind.RESOURCE);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Path onnx = dir.resolve("beam.onnx");
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    r.write(onnx);
    List<Node> loops = r.graph().nodes().stream().filter(n -> n.isOnnx("Loop")).toList();
    assertEquals(2, loops.size(), r.graph().opHistogram().toString());
    Graph resolve = ((Attr.GraphVal) loops.get(1).attr("body")).value();
    assertEquals(2, resolve.nodes().stream().filter(n -> n.isOnnx("Gather") && n.input(0).producer() != null
        && n.input(0).producer().graph() != resolve).count(), "labels and backpointers gathered from outer values");
    for (int[] lengths : new int[][] {BATCHES[0], BATCHES[1], {4, 6}}) {
      Verifier.Report rep = verify(f, w, onnx, feeds(f, lengths));
      assertTrue(rep.ok(), Arrays.toString(lengths) + "\n" + rep.format());
    }
    try (OnnxSession s = OnnxSession.open(onnx, OnnxSession.Options.defaults())) {
      Tensor labels = s.run(feeds(f, BATCHES[0])).get(TensorRef.parse(LoopFixtures.OUTPUT).onnxName());
      long steps = labels.shape()[1];
      long[] v = labels.toLongs();
      int differing = 0;
      for (int b = 0; b < BATCHES[0].length; b++) {
        Set<List<Long>> hyps = new HashSet<>();
        for (int k = 0; k < LoopFixtures.BEAM; k++) {
          List<Long> row = new ArrayList<>();
          for (int t = 0; t < steps; t++) row.add(v[(int) ((b * LoopFixtures.BEAM + k) * steps + t)]);
          hyps.add(row);
        }
        if (hyps.size() == LoopFixtures.BEAM) differing++;
      }
      assertTrue(differing > 1, "hypotheses differ within a sequence: " + Arrays.toString(v));
    }
  }

  /** Loop and If bodies are legalized with the target opset's forms (Split, Squeeze, reductions) from 13 to 23. */
  @Test
  void opsets13To23() {
    for (Fixture f : List.of(LoopFixtures.vanillaLstm(VariableKind.RESOURCE, true), LoopFixtures.greedyDecoder(VariableKind.TF1))) {
      FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
      for (int opset : new int[] {13, 18, 23}) {
        Path onnx = dir.resolve(f.name() + opset + ".onnx");
        // --no-fuse: the LSTM loop would otherwise become an ONNX LSTM and leave no body to legalize.
        Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withOpset(opset).withFuse(false))
            .write(onnx);
        Verifier.Report rep = verify(f, w, onnx, feeds(f, BATCHES[0]));
        assertTrue(rep.ok(), f.name() + " opset " + opset + "\n" + rep.format());
      }
    }
  }

  /** Feeds by ONNX input name: the fixture's random padded batch, and the train flag off. */
  static Map<String, Tensor> feeds(Fixture f, int... lengths) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    f.randomFeeds(5, lengths).forEach((k, v) -> feeds.put(TensorRef.parse(k).onnxName(), v));
    if (f.name().startsWith("train_flag")) feeds.put(LoopFixtures.TRAIN_FLAG, Tensor.ofBools(new long[0], false));
    return feeds;
  }

  static Verifier.Report verify(Fixture f, FixtureWriter.Written w, Path onnx, Map<String, Tensor> feeds) {
    return Verifier.verify(new Verifier.Options(w.graph(), w.checkpointPrefix(), onnx, f.outputs(), feeds, 1, 3, 7, 1e-5));
  }
}
