package returnn.onnx.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import returnn.onnx.ir.Tensor;
import returnn.onnx.rewrite.state.StateMapping;

/**
 * The streaming session on a hand-built one-LSTM model after {@code --state}'s pass: the pass exposes the LSTM's state
 * under RETURNN's names as plain inputs (or, with {@code --state-defaults}, with fresh-state defaults), the mapping reads
 * back from ONNX Runtime's metadata, and a sequence run in 1, 2 or 7 chunks gives what one full run gives and what a
 * plain Java LSTM computes.
 */
class StreamingSessionTest {
  static final int T = 7, B = 3, I = 4, H = 5;
  static final int[] LENGTHS = {7, 4, 0};
  static final String H_IN = "lstm0/rec/initial_state_placeholder_h", C_IN = "lstm0/rec/initial_state_placeholder_c";
  static final String H_OUT = "lstm0/rec/last_state_h", C_OUT = "lstm0/rec/last_state_c";

  final HandBuiltLstm lstm = new HandBuiltLstm(I, H, 1);
  final float[] x = random(new Random(2), T * B * I);

  @TempDir
  Path dir;

  Path model(boolean state) throws IOException {
    return model(state, false);
  }

  Path model(boolean state, boolean defaults) throws IOException {
    Path p = dir.resolve(state ? (defaults ? "state-defaults.onnx" : "state.onnx") : "plain.onnx");
    Files.write(p, lstm.model(state, defaults));
    return p;
  }

  static float[] random(Random r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
    return v;
  }

  @Test
  void stateInputsArePlainInputsListedByOnnxRuntime() throws IOException {
    try (StreamingSession s = StreamingSession.open(model(true), OnnxSession.Options.singleThread())) {
      StateMapping m = s.mapping();
      assertEquals(List.of(C_IN, H_IN), m.inputs());
      assertEquals(List.of(C_OUT, H_OUT), m.outputs());
      for (StateMapping.Entry e : m.entries()) {
        assertFalse(e.hasDefault(), e.toString());
        assertEquals(StateMapping.Origin.AUTOMATIC, e.origin());
        assertEquals("[batch, 5]", e.inputShape().toString());
      }
      assertEquals(List.of("x", "x_lens"), s.dataInputs());
      assertEquals(List.of("y"), s.networkOutputs());
    }
    try (OnnxSession plain = OnnxSession.open(model(true), OnnxSession.Options.singleThread())) {
      assertEquals(List.of("y", C_OUT, H_OUT), plain.outputNames(), "network output first, then the states in mapping order");
      assertEquals(List.of("x", "x_lens", H_IN, C_IN), plain.inputNames(), "every state input is listed");
      assertEquals(C_OUT, plain.metadata().get("STATE_" + C_IN), "RASR's metadata convention");
      assertEquals(H_OUT, plain.metadata().get("STATE_" + H_IN));
    }
  }

  @Test
  void withStateDefaultsTheInputsHaveInitializersOnnxRuntimeHides() throws IOException {
    try (StreamingSession s = StreamingSession.open(model(true, true), OnnxSession.Options.singleThread())) {
      for (StateMapping.Entry e : s.mapping().entries()) assertTrue(e.hasDefault(), e.toString());
      assertEquals(List.of("x", "x_lens"), s.dataInputs());
    }
    try (OnnxSession plain = OnnxSession.open(model(true, true), OnnxSession.Options.singleThread())) {
      assertEquals(List.of(C_IN, H_IN), StateMapping.fromJson(plain.metadata().get(StateMapping.METADATA_KEY)).inputs());
      // Inputs with a default are initializers to ONNX Runtime, which its Java API does not list (nor let callers feed).
      assertEquals(List.of("x", "x_lens"), plain.inputNames());
    }
  }

  @ParameterizedTest(name = "{0} chunks, defaults {1}")
  @CsvSource({"1,false", "2,false", "7,false", "2,true"})
  void chunksWithCarriedStateEqualOneFullRun(int chunks, boolean defaults) throws IOException {
    float[] expected = lstm.reference(x, T, B, LENGTHS, null, null);
    try (StreamingSession s = StreamingSession.open(model(true, defaults), OnnxSession.Options.singleThread())) {
      float[] full = s.step(feeds(0, T)).get("y").toFloats();
      assertClose(expected, full, "full run vs Java LSTM");
      Map<String, Tensor> fullStates = s.states();
      s.reset();
      float[] chunked = new float[full.length];
      int t0 = 0;
      for (int k = 0; k < chunks; k++) {
        int t1 = T * (k + 1) / chunks;
        float[] y = s.step(feeds(t0, t1)).get("y").toFloats();
        System.arraycopy(y, 0, chunked, t0 * B * H, y.length);
        t0 = t1;
      }
      assertClose(full, chunked, chunks + " chunks vs full run");
      for (String name : List.of(H_OUT, C_OUT)) {
        assertClose(fullStates.get(name).toFloats(), s.states().get(name).toFloats(), name);
      }
    }
  }

  @Test
  void statesMayBeOmittedOrFed() throws IOException {
    float[] h0 = random(new Random(3), B * H), c0 = random(new Random(4), B * H);
    try (OnnxSession s = OnnxSession.open(model(true, true), OnnxSession.Options.singleThread())) {
      assertClose(lstm.reference(x, T, B, LENGTHS, null, null), s.run(feeds(0, T)).get("y").toFloats(), "states omitted: defaults");
    }
    try (OnnxSession s = OnnxSession.open(model(true), OnnxSession.Options.singleThread())) {
      Map<String, Tensor> fresh = feeds(0, T);
      fresh.put(H_IN, Tensor.ofFloats(new long[] {B, H}, new float[B * H]));
      fresh.put(C_IN, Tensor.ofFloats(new long[] {B, H}, new float[B * H]));
      assertClose(lstm.reference(x, T, B, LENGTHS, null, null), s.run(fresh).get("y").toFloats(), "zeros fed: a fresh state");
    }
    try (StreamingSession s = StreamingSession.open(model(true), OnnxSession.Options.singleThread())) {
      Map<String, Tensor> fed = feeds(0, T);
      fed.put(H_IN, Tensor.ofFloats(new long[] {B, H}, h0));
      fed.put(C_IN, Tensor.ofFloats(new long[] {B, H}, c0));
      assertClose(lstm.reference(x, T, B, LENGTHS, h0, c0), s.step(fed).get("y").toFloats(), "states fed");
      // Batch entry 2 has length 0: its final state is the state it was given (ONNX Runtime alone would give zeros).
      float[] last = s.states().get(H_OUT).toFloats();
      assertClose(Arrays.copyOfRange(h0, 2 * H, 3 * H), Arrays.copyOfRange(last, 2 * H, 3 * H), "length 0 keeps h");
    }
    try (OnnxSession s = OnnxSession.open(model(false), OnnxSession.Options.singleThread())) {
      assertEquals(List.of("x", "x_lens"), s.inputNames(), "without --state the state stays inside");
    }
  }

  @Test
  void closedSessionsAndModelsWithoutMappingFailClearly() throws IOException {
    StreamingSession s = StreamingSession.open(model(true), OnnxSession.Options.singleThread());
    s.close();
    IllegalStateException closed = assertThrows(IllegalStateException.class, () -> s.step(feeds(0, 1)));
    assertEquals("streaming session is closed", closed.getMessage());
    Path plain = model(false);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> StreamingSession.open(plain, OnnxSession.Options.singleThread()));
    assertTrue(e.getMessage().contains("convert the model with --state"), e.getMessage());
    try (StreamingSession t = StreamingSession.open(model(true), OnnxSession.Options.singleThread())) {
      e = assertThrows(IllegalArgumentException.class, () -> t.step(Map.of("nope", Tensor.scalarFloat(0))));
      assertTrue(e.getMessage().startsWith("Unknown input name nope"), e.getMessage());
    }
  }

  /** x frames [t0, t1) and each sequence's length within them. */
  Map<String, Tensor> feeds(int t0, int t1) {
    int[] lens = new int[B];
    for (int b = 0; b < B; b++) lens[b] = Math.max(0, Math.min(LENGTHS[b], t1) - t0);
    float[] chunk = Arrays.copyOfRange(x, t0 * B * I, t1 * B * I);
    return new java.util.LinkedHashMap<>(Map.of("x", Tensor.ofFloats(new long[] {t1 - t0, B, I}, chunk),
        "x_lens", Tensor.ofInts(new long[] {B}, lens)));
  }

  static void assertClose(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what + ": sizes");
    double max = 0;
    for (int i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(expected[i] - actual[i]));
    assertTrue(max <= 1e-5, what + ": max abs error " + max);
  }
}
