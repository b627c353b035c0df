package returnn.onnx.verify.lstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
import returnn.onnx.ir.Tensor;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Verifier;

/**
 * {@code vanillalstm}, {@code standardlstm} and {@code lstmblock} (TF1 {@code LSTMBlockCell}, also with peepholes)
 * {@code dynamic_rnn} loops, forward and backward, both variable kinds:
 * fused into one ONNX LSTM (no Loop left) and equal to TensorFlow on the original graph to 1e-5 on padded batches with
 * a zero-length sequence and a time axis longer than every sequence; {@code --no-fuse} keeps the Loop.
 */
class LoopLstmFusionTest {
  @TempDir
  Path dir;

  static Stream<Arguments> cases() {
    List<Arguments> l = new ArrayList<>();
    for (VariableKind k : VariableKind.values()) {
      for (boolean backward : new boolean[] {false, true}) {
        l.add(Arguments.of("vanillalstm", k, backward));
        l.add(Arguments.of("standardlstm", k, backward));
        l.add(Arguments.of("lstmblock", k, backward));
        l.add(Arguments.of("lstmblock_peephole", k, backward));
      }
    }
    return l.stream();
  }

  @ParameterizedTest(name = "{0} {1} backward={2}")
  @MethodSource("cases")
  void fusesIntoOneLstmMatchingTensorFlow(String cell, VariableKind kind, boolean backward) {
    Fixture f = fixture(cell, kind, backward);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    String histogram = r.graph().opHistogram().toString();
    assertEquals(1, r.graph().count("LSTM"), histogram);
    assertEquals(0, r.graph().count("Loop"), histogram);
    assertEquals(0, r.graph().count("ReverseSequence"), histogram);
    assertTrue(r.report().fusions.stream().anyMatch(x -> x.contains("→ LSTM " + (backward ? "reverse" : "forward"))
        && x.contains(cell.equals("vanillalstm") ? "input projection folded" : "forget_bias 1.0 in B")
        && x.contains(cell.startsWith("lstmblock") ? "(LSTMBlockCell)" : "(")
        && x.contains(cell.endsWith("peephole") ? "peepholes as P" : "(")), r.report().fusions.toString());
    returnn.onnx.ir.Node lstm = r.graph().nodes().stream().filter(n -> n.isOnnx("LSTM")).findFirst().orElseThrow();
    assertEquals(cell.endsWith("peephole"), lstm.inputs().size() == 8 && lstm.input(7) != null, "P exactly with peepholes");
    Path onnx = dir.resolve("fused.onnx");
    r.write(onnx);
    for (int[] lengths : new int[][] {{5, 0, 3, 7}, {2, 0, 1}}) {
      Verifier.Report rep = verify(f, w, onnx, feeds(f, lengths));
      assertTrue(rep.ok(), Arrays.toString(lengths) + "\n" + rep.format());
    }
    // A time axis longer than every sequence: the loop runs max(length) steps, the LSTM zero-fills the rest.
    Map<String, Tensor> longer = feeds(f, 6, 0, 2);
    longer.put("extern_data/placeholders/data/data_dim0_size", Tensor.ofInts(new long[] {3}, 4, 0, 2));
    Verifier.Report rep = verify(f, w, onnx, longer);
    assertTrue(rep.ok(), rep.format());
  }

  /**
   * Loops that are not a masked LSTM over a time axis stay Loops, with the reason in the report: the greedy decoder
   * (an LSTM cell, but masked by its own end-of-sequence state and feeding back labels) and a rec sub-network.
   */
  @Test
  void declinesOtherLoops() {
    for (Fixture f : List.of(LoopFixtures.greedyDecoder(VariableKind.TF1), LoopFixtures.recSubnetwork(VariableKind.RESOURCE))) {
      FixtureWriter.Written w = f.write(dir.resolve(f.name()), GraphFormat.PB);
      Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
      assertEquals(1, r.graph().count("Loop"), r.graph().opHistogram().toString());
      assertEquals(0, r.graph().count("LSTM"), r.graph().opHistogram().toString());
      assertTrue(r.report().ruleNotes.stream().anyMatch(n -> n.startsWith("LstmRules.LOOP_LSTM declined")),
          r.report().ruleNotes.toString());
      assertEquals(List.of(), r.report().warnings, "not LSTMs: explained on request only");
    }
  }

  /**
   * {@code LSTMBlockCell}'s {@code cell_clip} clips the cell state, ONNX LSTM's {@code clip} the gate pre-activations:
   * not the same function, so the loop stays an exact Loop (the LSTMBlockCell converted op by op) with the reason.
   * Random weights drive cell states past ±0.3, so the clip matters for the numbers.
   */
  @Test
  void cellClipKeepsAnExactLoop() {
    Fixture f = LoopFixtures.blockLstm(VariableKind.TF1, false, true, 0.3f);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    assertEquals(1, r.graph().count("Loop"), r.graph().opHistogram().toString());
    assertEquals(0, r.graph().count("LSTM"), r.graph().opHistogram().toString());
    assertTrue(r.report().ruleNotes.stream().anyMatch(n -> n.startsWith("LstmRules.LOOP_LSTM declined")
        && n.contains("cell_clip 0.3")), r.report().ruleNotes.toString());
    assertTrue(r.report().format().contains("warning: ") && r.report().warnings.get(0).contains("cell_clip 0.3"),
        "shown without --explain-fusions: " + r.report().format());
    Path onnx = dir.resolve("clip.onnx");
    r.write(onnx);
    Verifier.Report rep = verify(f, w, onnx, feeds(f, 5, 0, 3, 7));
    assertTrue(rep.ok(), rep.format());
    // The same weights without the clip (same seed): TF's numbers differ from this model's.
    FixtureWriter.Written plain = LoopFixtures.blockLstm(VariableKind.TF1, false, true, -1f).write(dir.resolve("plain"), GraphFormat.PB);
    Verifier.Report unclipped = verify(f, plain, onnx, feeds(f, 5, 0, 3, 7));
    assertTrue(!unclipped.ok(), "the clip changes the numbers, so the test above can fail\n" + unclipped.format());
  }

  @Test
  void noFuseKeepsTheLoopOfAnLstmBlockCell() {
    Fixture f = LoopFixtures.blockLstm(VariableKind.RESOURCE, true, true, -1f);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withFuse(false));
    assertEquals(1, r.graph().count("Loop"), r.graph().opHistogram().toString());
    assertEquals(0, r.graph().count("LSTM"), r.graph().opHistogram().toString());
    Path onnx = dir.resolve("loop.onnx");
    r.write(onnx);
    Verifier.Report rep = verify(f, w, onnx, feeds(f, 5, 0, 3, 7));
    assertTrue(rep.ok(), rep.format());
  }

  private static Fixture fixture(String cell, VariableKind kind, boolean backward) {
    return switch (cell) {
      case "vanillalstm" -> LoopFixtures.vanillaLstm(kind, backward);
      case "standardlstm" -> LoopFixtures.standardLstm(kind, backward);
      default -> LoopFixtures.blockLstm(kind, backward, cell.endsWith("peephole"), -1f);
    };
  }

  @Test
  void noFuseKeepsTheLoop() {
    Fixture f = LoopFixtures.standardLstm(VariableKind.RESOURCE, true);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withFuse(false));
    assertEquals(1, r.graph().count("Loop"), r.graph().opHistogram().toString());
    assertEquals(0, r.graph().count("LSTM"), r.graph().opHistogram().toString());
  }

  private static Map<String, Tensor> feeds(Fixture f, int... lengths) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    f.randomFeeds(5, lengths).forEach((k, v) -> feeds.put(TensorRef.parse(k).onnxName(), v));
    return feeds;
  }

  private static Verifier.Report verify(Fixture f, FixtureWriter.Written w, Path onnx, Map<String, Tensor> feeds) {
    return Verifier.verify(new Verifier.Options(w.graph(), w.checkpointPrefix(), onnx, f.outputs(), feeds, 1, 3, 7, 1e-5));
  }
}
