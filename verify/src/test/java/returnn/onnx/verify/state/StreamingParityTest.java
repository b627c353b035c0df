package returnn.onnx.verify.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.Input;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.fixtures.lstm.LstmTwin;
import returnn.onnx.fixtures.transformer.TransformerFixtures;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.rewrite.state.StateMapping;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.runtime.StreamingSession;
import returnn.onnx.runtime.TimeChunks;
import returnn.onnx.verify.Comparison;

/**
 * {@code convert --state} on the LSTM LM and the causal Transformer LM, each built with RETURNN's state placeholders and
 * without: both forms get the same state inputs and outputs under RETURNN's names, the mapping reads back through ONNX
 * Runtime's metadata, a padded batch run in 1, 2 and 7 chunks with carried state gives the outputs (and final states)
 * of one full run and of TensorFlow, and the plain ONNX Runtime API lists the state inputs and runs the model from
 * zeros fed to them (a fresh state).
 */
class StreamingParityTest {
  static final String DATA = "extern_data/placeholders/data/data";
  static final String LENGTHS = "extern_data/placeholders/data/data_dim0_size";
  static final int[] SEQ_LENGTHS = {7, 4, 0, 1};
  static final int TIME = 7;
  static final double TOL = 1e-5;

  @TempDir
  Path dir;

  /** A fixture with what the test expects of it. */
  record Case(Fixture fixture, boolean lstm, boolean placeholders, List<String> stateInputs, int opset) {}

  static Case fixture(String name) {
    List<String> lstm = List.of("lstm0/rec/initial_state_placeholder_c", "lstm0/rec/initial_state_placeholder_h",
        "lstm1/rec/initial_state_placeholder_c", "lstm1/rec/initial_state_placeholder_h");
    List<String> att = List.of("dec_01_self_att/initial_state_placeholder_k_left", "dec_01_self_att/initial_state_placeholder_v_left",
        "dec_02_self_att/initial_state_placeholder_k_left", "dec_02_self_att/initial_state_placeholder_v_left");
    return switch (name) {
      case "lstm_lm" -> new Case(LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false,
          LstmFixtures.Sizes.TEST), true, false, lstm, ConvertOptions.DEFAULT_OPSET);
      case "lstm_lm_state" -> new Case(LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, true,
          LstmFixtures.Sizes.TEST), true, true, lstm, ConvertOptions.DEFAULT_OPSET);
      case "transformer_lm" -> new Case(TransformerFixtures.causalLm(VariableKind.RESOURCE, 2, false), false, false, att,
          ConvertOptions.DEFAULT_OPSET);
      // Opset 23 fuses causal attention into ONNX Attention, which the state pass re-emits as MultiHeadAttention.
      case "transformer_lm_opset23" -> new Case(TransformerFixtures.causalLm(VariableKind.RESOURCE, 2, false), false, false, att, 23);
      case "transformer_lm_state" -> new Case(TransformerFixtures.causalLm(VariableKind.RESOURCE, 2, true), false, true, att,
          ConvertOptions.DEFAULT_OPSET);
      default -> throw new IllegalArgumentException(name);
    };
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"lstm_lm", "lstm_lm_state", "transformer_lm", "transformer_lm_opset23", "transformer_lm_state"})
  void chunkedRunsEqualOneFullRunAndTensorFlow(String name) {
    Case c = fixture(name);
    Fixture f = c.fixture();
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Converter.Result conv = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), List.of(LstmFixtures.OUTPUT)).withOpset(c.opset()).withState(true, false));
    String report = conv.report().format(true);
    if (c.lstm()) {
      assertEquals(2, conv.graph().count("LSTM"), report);
      assertEquals(0, conv.graph().count("Loop"), report);
    } else {
      assertEquals(2, conv.graph().count("com.microsoft.MultiHeadAttention"), report);
    }
    String rule = c.lstm() ? "StateRules.LSTM_STATE" : "StateRules.ATTENTION_STATE";
    // RETURNN's placeholders are kept; their attention still gets the prefix-length mask.
    assertEquals(c.placeholders() && c.lstm() ? 0 : 2, conv.report().rulesFired.getOrDefault(rule, 0), report);
    assertEquals(0, conv.graph().nodes().stream().filter(n -> n.attr("unidirectional") != null).count(), "causal mask lowered to a bias");
    Path onnx = dir.resolve(name + ".onnx");
    conv.write(onnx);

    Map<String, Tensor> feeds = dataFeeds(f);
    Map<String, Tensor> tf = tensorFlow(c, w, feeds);
    Tensor tfOut = tf.get(LstmFixtures.OUTPUT);
    try (StreamingSession s = StreamingSession.open(onnx, OnnxSession.Options.singleThread())) {
      StateMapping m = s.mapping();
      assertEquals(c.stateInputs(), m.inputs(), "state inputs under RETURNN's names, in mapping order");
      for (StateMapping.Entry e : m.entries()) {
        assertFalse(e.hasDefault(), e.toString());
        assertEquals(c.placeholders() ? StateMapping.Origin.PLACEHOLDER : StateMapping.Origin.AUTOMATIC, e.origin());
        assertEquals(e.input().replace("initial_state_placeholder_", "last_state_"), e.output());
      }
      // The causal Transformer LM never reads the lengths, so they are pruned.
      assertEquals(c.lstm() ? List.of(DATA, LENGTHS) : List.of(DATA), s.dataInputs());
      if (!c.lstm()) feeds.remove(LENGTHS);
      Tensor full = s.step(feeds).get("output/output_batch_major");
      assertClose(tfOut, full, name + " full run vs TF");
      Map<String, Tensor> fullStates = s.states();
      if (c.placeholders()) {
        for (String out : m.outputs()) assertClose(tf.get(out + ":0"), fullStates.get(out), name + " " + out + " vs TF");
      }
      for (int chunks : new int[] {1, 2, 7}) {
        s.reset();
        List<Tensor> outs = new ArrayList<>();
        for (int k = 0, t0 = 0; k < chunks; k++) {
          int t1 = TIME * (k + 1) / chunks;
          Map<String, Tensor> chunk = new LinkedHashMap<>(Map.of(DATA, TimeChunks.slice(feeds.get(DATA), t0, t1)));
          if (c.lstm()) chunk.put(LENGTHS, TimeChunks.lengths(SEQ_LENGTHS, t0, t1));
          outs.add(s.step(chunk).get("output/output_batch_major"));
          t0 = t1;
        }
        Tensor chunked = TimeChunks.concat(outs);
        assertClose(full, chunked, name + " " + chunks + " chunks vs full run");
        assertClose(tfOut, chunked, name + " " + chunks + " chunks vs TF");
        Map<String, Tensor> states = s.states();
        for (String out : m.outputs()) assertClose(fullStates.get(out), states.get(out), name + " " + chunks + " chunks " + out);
      }
    }
    try (OnnxSession plain = OnnxSession.open(onnx, OnnxSession.Options.singleThread())) {
      List<String> expectedInputs = new ArrayList<>(feeds.keySet());
      expectedInputs.addAll(c.stateInputs());
      if (!c.lstm()) expectedInputs.add("prefix-length");
      assertEquals(new java.util.TreeSet<>(expectedInputs), new java.util.TreeSet<>(plain.inputNames()), "state inputs are listed");
      StateMapping m = StateMapping.fromJson(plain.metadata().get(StateMapping.METADATA_KEY));
      Map<String, Tensor> fresh = new LinkedHashMap<>(feeds);
      for (StateMapping.Entry e : m.entries()) {
        assertEquals(e.output(), plain.metadata().get("STATE_" + e.input()), "RASR's STATE_ metadata");
        fresh.put(e.input(), StreamingSession.zeros(e, SEQ_LENGTHS.length));
      }
      assertEquals(c.lstm() ? null : "prefix-length", m.prefixLength());
      if (!c.lstm()) fresh.put("prefix-length", Tensor.ofInts(new long[] {SEQ_LENGTHS.length}, new int[SEQ_LENGTHS.length]));
      assertClose(tfOut, plain.run(fresh).get("output/output_batch_major"), name + " from zeros fed as states vs TF");
    }
  }

  /**
   * Chunk lengths per step (rows) and sequence (columns): every mix of chunk and prefix lengths in one batch, an empty
   * chunk (0), a sequence that stops early, one that has no tokens. Column sums are {@link #SEQ_LENGTHS}.
   */
  static final int[][] MIXED = {{3, 1, 0, 0}, {2, 0, 0, 1}, {2, 3, 0, 0}};

  /**
   * The causal Transformer LM (both state forms; also with --state-defaults and --ort-version 1.16, where the same
   * prefix mask is built) streamed in chunks of different lengths per sequence: every real frame equals TensorFlow's
   * full run. The states are re-aligned between calls (left padding) and prefix-length tells the model how many past
   * frames are real; without the mask (prefix-length fed as "all real") the result differs, so the check can fail.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"transformer_lm", "transformer_lm_state", "transformer_lm+defaults", "transformer_lm+ort1.16"})
  void mixedChunkLengthsEqualTensorFlow(String variant) {
    String name = variant.split("\\+")[0];
    Case c = fixture(name);
    Fixture f = c.fixture();
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    ConvertOptions o = ConvertOptions.of(w.graph(), w.checkpointPrefix(), List.of(LstmFixtures.OUTPUT)).withOpset(c.opset()).withState(true, false)
        .withState(true, variant.endsWith("+defaults")).withOrtMinor(variant.endsWith("+ort1.16") ? 16 : ConvertOptions.MIN_ORT_MINOR);
    Converter.Result conv = Converter.convert(o);
    Path onnx = dir.resolve(name + ".onnx");
    conv.write(onnx);
    Map<String, Tensor> feeds = dataFeeds(f);
    Tensor tfOut = tensorFlow(c, w, feeds).get(LstmFixtures.OUTPUT);
    Tensor data = feeds.get(DATA);
    int time = (int) data.shape()[1];
    for (boolean masked : new boolean[] {true, false}) {
      float[] got = new float[(int) tfOut.size()];
      long vocab = tfOut.shape()[2];
      try (StreamingSession s = StreamingSession.open(onnx, OnnxSession.Options.singleThread())) {
        int[] done = new int[SEQ_LENGTHS.length];
        for (int[] lens : MIXED) {
          int width = 0;
          for (int l : lens) width = Math.max(width, l);
          int[] chunk = new int[SEQ_LENGTHS.length * width];
          int[] all = data.toInts();
          for (int b = 0; b < lens.length; b++) {
            for (int t = 0; t < lens[b]; t++) chunk[b * width + t] = all[b * time + done[b] + t];
          }
          Map<String, Tensor> step = new LinkedHashMap<>(Map.of(DATA, Tensor.ofInts(new long[] {lens.length, width}, chunk)));
          if (!masked && done[0] > 0) {
            int[] everything = new int[lens.length];
            java.util.Arrays.fill(everything, Integer.MAX_VALUE);
            step.put("prefix-length", Tensor.ofInts(new long[] {lens.length}, everything));
          }
          float[] y = s.step(step, lens).get("output/output_batch_major").toFloats();
          for (int b = 0; b < lens.length; b++) {
            for (int t = 0; t < lens[b]; t++) {
              System.arraycopy(y, (int) ((b * width + t) * vocab), got, (int) ((b * time + done[b] + t) * vocab), (int) vocab);
            }
            done[b] += lens[b];
          }
          if (masked) {
            for (int b = 0; b < lens.length; b++) assertEquals(done[b], s.prefixLengths()[b], "real past frames of sequence " + b);
          }
        }
      }
      double worst = 0;
      float[] want = tfOut.toFloats();
      for (int b = 0; b < SEQ_LENGTHS.length; b++) {
        for (int i = (int) (b * time * vocab); i < (b * time + SEQ_LENGTHS[b]) * vocab; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]));
      }
      String what = variant + (masked ? "" : " without the prefix mask") + ": mixed chunk lengths vs TF, max abs " + worst;
      System.out.println(what);
      if (masked) assertTrue(worst < TOL, what);
      else assertTrue(worst > 100 * TOL, what);
    }
  }

  /**
   * States handed over by the caller (as {@code run --input} does) without prefix-length: every frame of them is real.
   * Two sessions: the first runs frames [0,4), the second continues from its states; together they equal TF.
   */
  @Test
  void attentionStatesFedByTheCallerCountAsReal() {
    Case c = fixture("transformer_lm");
    FixtureWriter.Written w = c.fixture().write(dir, GraphFormat.META);
    Path onnx = dir.resolve("lm.onnx");
    Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), List.of(LstmFixtures.OUTPUT)).withOpset(c.opset()).withState(true, false))
        .write(onnx);
    int[] full = {7, 7, 7, 7};
    Map<String, Tensor> all = c.fixture().randomFeeds(5, full);
    Tensor data = all.get(DATA + ":0");
    Tensor tf = TfReference.run(c.fixture().graph(), w.checkpointPrefix(), Map.of(DATA + ":0", data), List.of(LstmFixtures.OUTPUT))
        .get(LstmFixtures.OUTPUT);
    Map<String, Tensor> states;
    List<Tensor> outs = new ArrayList<>();
    try (StreamingSession s = StreamingSession.open(onnx, OnnxSession.Options.singleThread())) {
      outs.add(s.step(Map.of(DATA, TimeChunks.slice(data, 0, 4))).get("output/output_batch_major"));
      states = s.states();
    }
    try (StreamingSession s = StreamingSession.open(onnx, OnnxSession.Options.singleThread())) {
      Map<String, Tensor> feeds = new LinkedHashMap<>(Map.of(DATA, TimeChunks.slice(data, 4, 7)));
      for (StateMapping.Entry e : s.mapping().entries()) feeds.put(e.input(), states.get(e.output()));
      outs.add(s.step(feeds).get("output/output_batch_major"));
    }
    assertClose(tf, TimeChunks.concat(outs), "continued from caller-fed states vs TF");
  }

  /** Labels and lengths (ONNX names) of a padded batch. */
  static Map<String, Tensor> dataFeeds(Fixture f) {
    Map<String, Tensor> all = f.randomFeeds(5, SEQ_LENGTHS);
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    feeds.put(DATA, all.get(DATA + ":0"));
    feeds.put(LENGTHS, all.get(LENGTHS + ":0"));
    return feeds;
  }

  /** The fixture in TF (NativeLstm2 through its twin) from fresh states: fetches the output and the final states. */
  static Map<String, Tensor> tensorFlow(Case c, FixtureWriter.Written w, Map<String, Tensor> data) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    data.forEach((k, v) -> feeds.put(k + ":0", v));
    List<String> fetches = new ArrayList<>(List.of(LstmFixtures.OUTPUT));
    for (Input in : c.fixture().inputs()) {
      if (in.kind() != Input.Kind.STATE) continue;
      long[] dims = in.dims().clone();
      dims[0] = SEQ_LENGTHS.length;
      for (int i = 1; i < dims.length; i++) if (dims[i] < 0) dims[i] = 0; // no previous frames
      feeds.put(in.tensorName(), Tensor.fromDoubles(DType.FLOAT, dims, new double[(int) Tensor.count(dims)]));
      fetches.add(in.name().replace("initial_state_placeholder_", "last_state_") + ":0");
    }
    return TfReference.run(c.lstm() ? LstmTwin.of(c.fixture().graph()) : c.fixture().graph(), w.checkpointPrefix(), feeds, fetches);
  }

  static void assertClose(Tensor expected, Tensor actual, String what) {
    Comparison cmp = Comparison.of(what, expected, actual);
    assertTrue(cmp.ok(TOL, expected.dtype()), cmp.toString());
  }
}
