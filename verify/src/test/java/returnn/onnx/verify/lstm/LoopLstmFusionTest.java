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
 * {@code vanillalstm} and {@code standardlstm} {@code dynamic_rnn} loops, forward and backward, both variable kinds:
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
      }
    }
    return l.stream();
  }

  @ParameterizedTest(name = "{0} {1} backward={2}")
  @MethodSource("cases")
  void fusesIntoOneLstmMatchingTensorFlow(String cell, VariableKind kind, boolean backward) {
    Fixture f = cell.equals("vanillalstm") ? LoopFixtures.vanillaLstm(kind, backward) : LoopFixtures.standardLstm(kind, backward);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    String histogram = r.graph().opHistogram().toString();
    assertEquals(1, r.graph().count("LSTM"), histogram);
    assertEquals(0, r.graph().count("Loop"), histogram);
    assertEquals(0, r.graph().count("ReverseSequence"), histogram);
    assertTrue(r.report().fusions.stream().anyMatch(x -> x.contains("→ LSTM " + (backward ? "reverse" : "forward"))
        && x.contains(cell.equals("vanillalstm") ? "input projection folded" : "forget_bias 1.0 in B")), r.report().fusions.toString());
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
    }
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
