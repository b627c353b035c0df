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
import returnn.onnx.ir.Tensor;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Verifier;

/**
 * Plain TF1 {@code tf.nn.dynamic_rnn} LSTMs without {@code sequence_length} ({@code LSTMCell}, {@code LSTMBlockCell}
 * with and without peepholes, both variable kinds): one ONNX LSTM without {@code sequence_lens}, no Loop, equal to
 * TensorFlow on the original graph to 1e-5 (outputs and final c, h) for several time lengths including 1.
 */
class PlainDynamicRnnLstmTest {
  @TempDir
  Path dir;

  static Stream<Arguments> cases() {
    List<Arguments> l = new ArrayList<>();
    for (VariableKind k : VariableKind.values()) {
      for (String cell : List.of("lstmcell", "lstmblock", "lstmblock_peephole")) l.add(Arguments.of(cell, k));
    }
    return l.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void fusesIntoOneLstmWithoutSequenceLengths(String cell, VariableKind kind) {
    Fixture f = PlainRnns.lstm(kind, cell);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    String histogram = r.graph().opHistogram().toString();
    assertEquals(1, r.graph().count("LSTM"), histogram);
    assertEquals(0, r.graph().count("Loop"), histogram);
    assertEquals(List.of(), r.report().warnings);
    assertTrue(r.report().fusions.stream().anyMatch(x -> x.contains("→ LSTM forward")
        && x.contains("full length (no sequence_length)") && x.contains(cell.startsWith("lstmblock") ? "(LSTMBlockCell" : "(LSTMCell")
        && x.contains(cell.endsWith("peephole") ? "peepholes as P" : "(")), r.report().fusions.toString());
    returnn.onnx.ir.Node lstm = r.graph().nodes().stream().filter(n -> n.isOnnx("LSTM")).findFirst().orElseThrow();
    assertTrue(lstm.inputs().size() < 5 || lstm.input(4) == null, "no sequence_lens");
    Path onnx = dir.resolve("fused.onnx");
    r.write(onnx);
    assertEquals(null, returnn.onnx.verify.OnnxChecker.check(onnx), "the ONNX checker accepts the model");
    for (int[] shape : new int[][] {{4, 6}, {2, 1}, {1, 9}}) {
      Verifier.Report rep = verify(f, w, onnx, feeds(f, shape[0], shape[1]));
      assertTrue(rep.ok(), shape[0] + "x" + shape[1] + "\n" + rep.format());
    }
  }

  /**
   * {@code initial_state=(c0, h0)} fed at run time, with and without {@code sequence_length}: initial_c/initial_h of
   * the LSTM; a sequence of length 0 keeps the initial state in TF, and in the model (a Where over ONNX Runtime's zeros).
   */
  @Test
  void initialStatesBecomeInitialHAndC() {
    for (String cell : List.of("lstmcell", "lstmblock")) {
      for (boolean lengths : new boolean[] {false, true}) {
        Fixture f = PlainRnns.lstm(VariableKind.TF1, cell, lengths, true);
        FixtureWriter.Written w = f.write(dir.resolve(cell + lengths), GraphFormat.PB);
        Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
        String histogram = r.graph().opHistogram().toString();
        assertEquals(1, r.graph().count("LSTM"), histogram);
        assertEquals(0, r.graph().count("Loop"), histogram);
        returnn.onnx.ir.Node lstm = r.graph().nodes().stream().filter(n -> n.isOnnx("LSTM")).findFirst().orElseThrow();
        assertTrue(lstm.inputs().size() >= 7 && lstm.input(5) != null && lstm.input(6) != null, "initial_h, initial_c");
        Path onnx = dir.resolve(cell + lengths + ".onnx");
        r.write(onnx);
        int[][] cases = lengths ? new int[][] {{5, 0, 3, 7}, {2, 1}} : new int[][] {{4, 4, 4}, {1}};
        for (int[] l : cases) {
          Map<String, Tensor> feeds = new LinkedHashMap<>();
          f.randomFeeds(l.length, l).forEach((k, v) -> feeds.put(TensorRef.parse(k).onnxName(), v));
          Verifier.Report rep = verify(f, w, onnx, feeds);
          assertTrue(rep.ok(), cell + " " + java.util.Arrays.toString(l) + "\n" + rep.format());
        }
      }
    }
  }

  /**
   * {@code tf.nn.bidirectional_dynamic_rnn}: the backward direction reverses the batch-major input and output within
   * each length around its loop. Both loops fuse (the backward one runs forward over the reversed input, as TF's does),
   * equal to TF with a zero-length sequence.
   */
  @Test
  void bidirectionalDynamicRnnFusesBothDirections() {
    Fixture f = PlainRnns.bidirectionalLstm(VariableKind.RESOURCE);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    String histogram = r.graph().opHistogram().toString();
    assertEquals(2, r.graph().count("LSTM"), histogram);
    assertEquals(0, r.graph().count("Loop"), histogram);
    Path onnx = dir.resolve("bi.onnx");
    r.write(onnx);
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    f.randomFeeds(3, 5, 0, 3, 7).forEach((k, v) -> feeds.put(TensorRef.parse(k).onnxName(), v));
    Verifier.Report rep = verify(f, w, onnx, feeds);
    assertTrue(rep.ok(), rep.format());
  }

  /**
   * {@code cell_clip} is not ONNX LSTM's clip: the loop stays an exact Loop and the user gets a {@code warning:} line
   * (an LSTM left as a Loop). The fused model of the same weights without the clip differs from TF's clipped numbers,
   * so the comparison can fail.
   */
  @Test
  void cellClipStaysAnExactLoopWithAWarning() {
    Fixture f = PlainRnns.lstm(VariableKind.TF1, "lstmblock_clip");
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    assertEquals(1, r.graph().count("Loop"), r.graph().opHistogram().toString());
    assertEquals(0, r.graph().count("LSTM"), r.graph().opHistogram().toString());
    assertTrue(r.report().format().contains("warning: ") && r.report().warnings.get(0).contains("cell_clip 0.3"),
        r.report().format());
    Path onnx = dir.resolve("clip.onnx");
    r.write(onnx);
    Map<String, Tensor> feeds = feeds(f, 3, 7);
    Verifier.Report rep = verify(f, w, onnx, feeds);
    assertTrue(rep.ok(), rep.format());
    Fixture plain = PlainRnns.lstm(VariableKind.TF1, "lstmblock");
    FixtureWriter.Written pw = plain.write(dir.resolve("plain"), GraphFormat.PB);
    Converter.Result fused = Converter.convert(ConvertOptions.of(pw.graph(), pw.checkpointPrefix(), plain.outputs()));
    assertEquals(1, fused.graph().count("LSTM"));
    Path fusedOnnx = dir.resolve("unclipped.onnx");
    fused.write(fusedOnnx);
    assertFalse(verify(f, w, fusedOnnx, feeds).ok(), "the unclipped LSTM must not pass as TF's clipped cell");
  }

  /** {@code --no-fuse} keeps the Loop, and it is still TF's numbers. */
  @Test
  void noFuseKeepsTheLoop() {
    Fixture f = PlainRnns.lstm(VariableKind.RESOURCE, "lstmcell");
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withFuse(false));
    assertEquals(1, r.graph().count("Loop"));
    assertEquals(0, r.graph().count("LSTM"));
    Path onnx = dir.resolve("loop.onnx");
    r.write(onnx);
    assertTrue(verify(f, w, onnx, feeds(f, 2, 5)).ok());
  }

  /** {@code batch} sequences of {@code time} steps (no lengths: every sequence is the whole axis). */
  private static Map<String, Tensor> feeds(Fixture f, int batch, int time) {
    int[] lengths = new int[batch];
    java.util.Arrays.fill(lengths, time);
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    f.randomFeeds(batch * 31L + time, lengths).forEach((k, v) -> feeds.put(TensorRef.parse(k).onnxName(), v));
    return feeds;
  }

  private static Verifier.Report verify(Fixture f, FixtureWriter.Written w, Path onnx, Map<String, Tensor> feeds) {
    return Verifier.verify(new Verifier.Options(w.graph(), w.checkpointPrefix(), onnx, f.outputs(), feeds, 1, 3, 7, 1e-5));
  }
}
