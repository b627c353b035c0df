package returnn.onnx.verify.lstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
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
import returnn.onnx.fixtures.loops.PlainRnns;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Verifier;

/**
 * TF GRU loops ({@code GRUCell} written out, TF1's {@code GRUBlockCell} op) in {@code tf.nn.dynamic_rnn}, with and
 * without {@code sequence_length}, both variable kinds: one ONNX GRU ({@code linear_before_reset 0}), no Loop, equal to
 * TensorFlow on the original graph to 1e-5 (outputs and final h), with a zero-length sequence where lengths are fed;
 * {@code --no-fuse} keeps an exact Loop (the {@code GRUBlockCell} handler).
 */
class PlainDynamicRnnGruTest {
  @TempDir
  Path dir;

  static Stream<Arguments> cases() {
    List<Arguments> l = new ArrayList<>();
    for (VariableKind k : VariableKind.values()) {
      for (String cell : List.of("grucell", "grublock")) {
        for (boolean lengths : new boolean[] {false, true}) l.add(Arguments.of(cell, lengths, k));
      }
    }
    return l.stream();
  }

  @ParameterizedTest(name = "{0} lengths={1} {2}")
  @MethodSource("cases")
  void fusesIntoOneGru(String cell, boolean lengths, VariableKind kind) {
    Fixture f = PlainRnns.gru(kind, cell, lengths);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    String histogram = r.graph().opHistogram().toString();
    assertEquals(1, r.graph().count("GRU"), histogram);
    assertEquals(0, r.graph().count("Loop"), histogram);
    assertEquals(List.of(), r.report().warnings);
    assertTrue(r.report().fusions.stream().anyMatch(x -> x.contains("→ GRU forward")
        && x.contains(cell.equals("grublock") ? "(GRUBlockCell" : "(GRUCell")
        && x.contains(lengths ? "sequence_lens from" : "full length")), r.report().fusions.toString());
    Path onnx = dir.resolve("fused.onnx");
    r.write(onnx);
    assertEquals(null, returnn.onnx.verify.OnnxChecker.check(onnx), "the ONNX checker accepts the model");
    for (int[] l : lengths ? new int[][] {{5, 0, 3, 7}, {2, 1}} : new int[][] {{6, 6, 6}, {1, 1}}) {
      Verifier.Report rep = verify(f, w, onnx, feeds(f, l));
      assertTrue(rep.ok(), java.util.Arrays.toString(l) + "\n" + rep.format());
    }
  }

  /** A backward GRU (time-major ReverseSequence by the lengths on both sides, as RETURNN's): direction reverse. */
  @Test
  void reverseSequencePairBecomesReverseDirection() {
    for (String cell : List.of("grucell", "grublock")) {
      Fixture f = PlainRnns.gru(VariableKind.TF1, cell, true, true);
      FixtureWriter.Written w = f.write(dir.resolve(cell), GraphFormat.PB);
      Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
      String histogram = r.graph().opHistogram().toString();
      assertEquals(1, r.graph().count("GRU"), histogram);
      assertEquals(0, r.graph().count("Loop"), histogram);
      assertEquals(0, r.graph().count("ReverseSequence"), histogram);
      assertTrue(r.report().fusions.stream().anyMatch(x -> x.contains("→ GRU reverse")), r.report().fusions.toString());
      Path onnx = dir.resolve(cell + "_bw.onnx");
      r.write(onnx);
      Verifier.Report rep = verify(f, w, onnx, feeds(f, 5, 0, 3, 7));
      assertTrue(rep.ok(), rep.format());
    }
  }

  /**
   * {@code initial_state=h0} fed at run time, with and without {@code sequence_length}: initial_h of the GRU; a sequence
   * of length 0 keeps h0 in TF, and in the model.
   */
  @Test
  void initialStateBecomesInitialH() {
    for (String cell : List.of("grucell", "grublock")) {
      for (boolean lengths : new boolean[] {false, true}) {
        Fixture f = PlainRnns.gru(VariableKind.RESOURCE, cell, lengths, false, true);
        FixtureWriter.Written w = f.write(dir.resolve(cell + lengths), GraphFormat.PB);
        Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
        String histogram = r.graph().opHistogram().toString();
        assertEquals(1, r.graph().count("GRU"), histogram);
        assertEquals(0, r.graph().count("Loop"), histogram);
        Path onnx = dir.resolve(cell + lengths + ".onnx");
        r.write(onnx);
        for (int[] l : lengths ? new int[][] {{5, 0, 3, 7}, {2, 1}} : new int[][] {{4, 4, 4}, {1}}) {
          Verifier.Report rep = verify(f, w, onnx, feeds(f, l));
          assertTrue(rep.ok(), cell + " " + java.util.Arrays.toString(l) + "\n" + rep.format());
        }
      }
    }
  }

  /** Every opset the CLI accepts gives a GRU (and an LSTM) model ONNX Runtime loads and runs as TF does. */
  @Test
  void fusedModelsRunAtEveryOpset() {
    Fixture gru = PlainRnns.gru(VariableKind.TF1, "grublock", true);
    Fixture lstm = PlainRnns.lstm(VariableKind.TF1, "lstmcell", true, true);
    for (Fixture f : List.of(gru, lstm)) {
      FixtureWriter.Written w = f.write(dir.resolve(f.name()), GraphFormat.PB);
      for (int opset : new int[] {13, 14, 18, 21, 22, 23}) {
        Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withOpset(opset));
        assertEquals(1, r.graph().count(f == gru ? "GRU" : "LSTM"), r.graph().opHistogram().toString());
        Path onnx = dir.resolve(f.name() + opset + ".onnx");
        r.write(onnx);
        Verifier.Report rep = verify(f, w, onnx, feeds(f, 5, 0, 3, 7));
        assertTrue(rep.ok(), f.name() + " opset " + opset + "\n" + rep.format());
      }
    }
  }

  /**
   * TF's GRUCell resets h before the recurrent matmul: ONNX's {@code linear_before_reset 0}. The same model with 1
   * (reset after the matmul) differs from TF beyond the tolerance, so the comparison above can fail.
   */
  @Test
  void linearBeforeResetMatters() {
    Fixture f = PlainRnns.gru(VariableKind.TF1, "grucell", true);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    Node gru = r.graph().nodes().stream().filter(n -> n.isOnnx("GRU")).findFirst().orElseThrow();
    assertEquals(0, gru.intAttr("linear_before_reset", -1));
    gru.set("linear_before_reset", new Attr.Int(1));
    Path onnx = dir.resolve("wrong.onnx");
    r.write(onnx);
    assertFalse(verify(f, w, onnx, feeds(f, 5, 0, 3, 7)).ok(), "linear_before_reset 1 must not pass as TF's GRUCell");
  }

  /** {@code --no-fuse}: the GRUBlockCell op converted by its handler inside an exact Loop, with and without lengths. */
  @Test
  void noFuseKeepsAnExactLoopOfGruBlockCells() {
    for (boolean lengths : new boolean[] {false, true}) {
      Fixture f = PlainRnns.gru(VariableKind.RESOURCE, "grublock", lengths);
      FixtureWriter.Written w = f.write(dir.resolve("l" + lengths), GraphFormat.PB);
      Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withFuse(false));
      assertEquals(1, r.graph().count("Loop"));
      assertEquals(0, r.graph().count("GRU"));
      Path onnx = dir.resolve("loop" + lengths + ".onnx");
      r.write(onnx);
      Verifier.Report rep = verify(f, w, onnx, lengths ? feeds(f, 5, 0, 3, 7) : feeds(f, 4, 4));
      assertTrue(rep.ok(), rep.format());
    }
  }

  private static Map<String, Tensor> feeds(Fixture f, int... lengths) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    f.randomFeeds(7, lengths).forEach((k, v) -> feeds.put(TensorRef.parse(k).onnxName(), v));
    return feeds;
  }

  private static Verifier.Report verify(Fixture f, FixtureWriter.Written w, Path onnx, Map<String, Tensor> feeds) {
    return Verifier.verify(new Verifier.Options(w.graph(), w.checkpointPrefix(), onnx, f.outputs(), feeds, 1, 3, 7, 1e-5));
  }
}
