package returnn.onnx.verify.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.runtime.Npy;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.runtime.TimeChunks;
import returnn.onnx.verify.Comparison;

/**
 * Every model of the RETURNN zoo ({@code returnn-zoo/manifest.json}): graphs that RETURNN's own
 * {@code compile_tf_graph.py} wrote, checkpoints that RETURNN's saver wrote after a few training steps, and the outputs
 * TensorFlow gave with RETURNN's compiled native ops. Each converts, matches the recorded outputs (fp32 to 1e-5,
 * integers exactly), has the fused ops the manifest demands, reacts to its input (so the tolerance can fail), and, for
 * the state variants, gives the same outputs run in chunks with the states carried as in one full run.
 */
class ZooTest {
  static final double TOL = 1e-5;
  static final String PLACEHOLDER = "initial_state_placeholder_";
  static final String LAST = "last_state_";

  @TempDir
  Path dir;

  static final Zoo ZOO = Zoo.load();

  @Test
  void manifestListsTheZoo() {
    List<String> names = ZOO.models().stream().map(Zoo.Model::name).toList();
    assertTrue(names.containsAll(List.of("lstm-lm", "lstm-lm-state", "blstm-am-nativelstm2")), names.toString());
    for (Zoo.Model m : ZOO.models()) {
      assertFalse(m.outputs().isEmpty(), m.name() + ": no reference outputs");
      assertFalse(m.fuse().isEmpty(), m.name() + ": no fusion expectations");
      assertTrue(m.entry().path("returnn_version").asText().startsWith("1."), m.name());
      assertTrue(m.entry().path("tensorflow_version").asText().startsWith("2."), m.name());
    }
  }

  @TestFactory
  Stream<DynamicTest> convertsAndMatchesRecordedTensorFlow() {
    return ZOO.models().stream().map(m -> DynamicTest.dynamicTest(m.name(), () -> convertAndMatch(m)));
  }

  @TestFactory
  Stream<DynamicTest> chunkedRunEqualsFullRun() {
    return ZOO.models().stream().filter(m -> m.state() != null || m.entry().has("chunked"))
        .map(m -> DynamicTest.dynamicTest(m.name(), () -> chunked(m)));
  }

  /** Converts {@code m} into {@code dir}; adds to {@code problems} every fused-op count that differs from the manifest. */
  Path convert(Zoo.Model m, List<String> problems) {
    Converter.Result r = Converter.convert(ConvertOptions.of(m.graph(), m.checkpoint(), m.outputNames()));
    // A graph whose network output TF cannot run has its fusions checked on a conversion of that output.
    List<String> fuseOutputs = new ArrayList<>();
    m.entry().path("fuse_outputs").forEach(o -> fuseOutputs.add(o.asText()));
    Converter.Result fused = fuseOutputs.isEmpty() ? r
        : Converter.convert(ConvertOptions.of(m.graph(), m.checkpoint(), fuseOutputs));
    for (Map.Entry<String, Integer> e : m.fuse().entrySet()) {
      int n = fused.graph().count(e.getKey()) + fused.graph().count("com.microsoft." + e.getKey());
      if (n != e.getValue()) problems.add(m.name() + ": " + n + " " + e.getKey() + " ops, expected " + e.getValue());
    }
    // Every attention and LSTM candidate fuses whole (a declined relative-position term, say, would still match TF),
    // except the declines the manifest names ("declined": note prefixes, each with its reason in the model's notes),
    // and each of those must still occur.
    List<String> allowed = new ArrayList<>();
    m.entry().path("declined").forEach(d -> allowed.add(d.asText()));
    List<String> unseen = new ArrayList<>(allowed);
    for (String note : fused.report().ruleNotes) {
      if (!(note.startsWith("AttentionRules.") || note.startsWith("LstmRules.") && m.fuse().getOrDefault("Loop", 0) == 0)) continue;
      String hit = allowed.stream().filter(note::startsWith).findFirst().orElse(null);
      if (hit != null) unseen.remove(hit);
      else problems.add(m.name() + ": declined " + note);
    }
    for (String d : unseen) problems.add(m.name() + ": the manifest's expected decline did not occur: " + d);
    if (!problems.isEmpty()) problems.add(fused.report().format(true));
    Path onnx = dir.resolve(m.name() + ".onnx");
    r.write(onnx);
    return onnx;
  }

  void convertAndMatch(Zoo.Model m) {
    List<String> fusion = new ArrayList<>();
    Path onnx = convert(m, fusion);
    Map<String, Tensor> inputs = m.readInputs();
    Map<String, Tensor> expected = m.readOutputs();
    try (OnnxSession s = OnnxSession.open(onnx, OnnxSession.Options.singleThread())) {
      Map<String, Tensor> feeds = feeds(s, inputs, m);
      Map<String, Tensor> got = s.run(feeds, m.outputNames());
      List<String> bad = new ArrayList<>();
      StringBuilder all = new StringBuilder();
      for (String out : m.outputNames()) {
        Tensor e = expected.get(out);
        Comparison c = Comparison.of(m.name() + " " + out, e, got.get(out));
        all.append(c).append('\n');
        if (!c.ok(TOL, e.dtype())) bad.add(c.toString());
      }
      System.out.print(all);
      assertTrue(bad.isEmpty(), "outputs differ from RETURNN/TF:\n" + String.join("\n", bad) + "\nall:\n" + all
          + String.join("\n", fusion));
      assertTrue(fusion.isEmpty(), String.join("\n", fusion));

      // The check can fail: the reference is far from zero, and changing one input frame of the first sequence moves
      // the first output far beyond the tolerance (the LMs, trained a few steps on random text, are nearly uniform:
      // their probabilities move by about 50 times the tolerance).
      String first = m.outputNames().get(0);
      Tensor ref = expected.get(first);
      if (ref.dtype().isFloating()) {
        Comparison zeros = Comparison.of("zeros", ref, Tensor.fromDoubles(ref.dtype(), ref.shape(), new double[(int) ref.size()]));
        assertTrue(zeros.maxAbs() > 100 * TOL, m.name() + ": reference too close to zero to test: " + zeros);
      }
      Map<String, Tensor> changed = new LinkedHashMap<>(feeds);
      String data = dataInput(feeds);
      changed.put(data, perturbFirstFrame(feeds.get(data)));
      Comparison moved = Comparison.of("perturbed", ref, s.run(changed, List.of(first)).get(first));
      assertTrue(moved.maxAbs() > 10 * TOL, m.name() + ": output does not react to its input: " + moved);
    }
  }

  /** The ONNX model's inputs from the recorded feeds; every model input must have one. */
  static Map<String, Tensor> feeds(OnnxSession s, Map<String, Tensor> inputs, Zoo.Model m) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    for (String name : s.inputNames()) {
      Tensor t = inputs.get(name);
      assertTrue(t != null, m.name() + ": model input " + name + " has no recorded TF feed (recorded: " + inputs.keySet() + ")");
      feeds.put(name, t);
    }
    return feeds;
  }

  /** The first fed input that is neither a length nor a state (the features or labels), else the first input. */
  static String dataInput(Map<String, Tensor> feeds) {
    return feeds.keySet().stream().filter(k -> !k.endsWith("_dim0_size") && !k.contains(PLACEHOLDER)).findFirst()
        .orElse(feeds.keySet().iterator().next());
  }

  /** Features: +3 on the first frame of the first sequence; labels: the next label id there; lengths: +4 on the first. */
  static Tensor perturbFirstFrame(Tensor t) {
    if (t.rank() == 1) {
      long[] v = new long[(int) t.size()];
      for (int i = 0; i < v.length; i++) v[i] = (long) t.getDouble(i) + (i == 0 ? 4 : 0);
      return Tensor.fromLongs(t.dtype(), t.shape(), v);
    }
    long n = t.size(), frame = n / t.shape()[0] / t.shape()[1];
    if (t.dtype().isFloating()) {
      double[] v = new double[(int) n];
      for (int i = 0; i < n; i++) v[i] = t.getDouble(i) + (i < frame ? 3.0 : 0.0);
      return Tensor.fromDoubles(t.dtype(), t.shape(), v);
    }
    long[] v = new long[(int) n];
    long max = 0;
    for (int i = 0; i < n; i++) max = Math.max(max, v[i] = (long) t.getDouble(i));
    for (int i = 0; i < frame; i++) v[i] = (v[i] + 1) % (max + 1);
    return Tensor.fromLongs(t.dtype(), t.shape(), v);
  }

  /**
   * Runs the model chunk by chunk, feeding each chunk's last states back as the next chunk's initial states (RETURNN's
   * {@code initial_state_placeholder_X} → {@code last_state_X}), and compares every valid frame and the final states
   * with the recorded full run.
   */
  void chunked(Zoo.Model m) {
    // Where RETURNN's own chunked run differs from its full run (positional encoding restarts in every call), the
    // manifest has TensorFlow's run in chunks ("chunked": each chunk fed with its width as every sequence's length).
    JsonNode tfChunked = m.entry().path("chunked");
    boolean vsTf = !tfChunked.isMissingNode();
    int chunk = vsTf ? tfChunked.path("chunk").asInt() : m.state().path("chunk").asInt(2);
    List<String> fusion = new ArrayList<>();
    Path onnx = convert(m, fusion);
    assertTrue(fusion.isEmpty(), String.join("\n", fusion));
    Map<String, Tensor> inputs = m.readInputs();
    Map<String, Tensor> expected = m.readOutputs();
    int[] lens = m.lengths();
    String out = m.outputNames().get(0);
    try (OnnxSession s = OnnxSession.open(onnx, OnnxSession.Options.singleThread())) {
      Map<String, Tensor> feeds = feeds(s, inputs, m);
      String data = dataInput(feeds);
      int time = (int) feeds.get(data).shape()[1];
      Map<String, Tensor> states = new LinkedHashMap<>();
      feeds.forEach((k, v) -> {
        if (k.contains(PLACEHOLDER)) states.put(k, v);
      });
      assertFalse(states.isEmpty(), m.name() + ": no state inputs " + feeds.keySet());
      List<String> fetches = new ArrayList<>(List.of(out));
      states.keySet().forEach(k -> fetches.add(k.replace(PLACEHOLDER, LAST)));
      // TF's chunked reference fed every sequence the chunk's whole width; against the full run, each its own length.
      int[] chunkLengths = lens;
      if (vsTf) {
        chunkLengths = new int[lens.length];
        java.util.Arrays.fill(chunkLengths, time);
      }
      List<Tensor> outs = new ArrayList<>();
      Map<String, Tensor> last = null;
      for (int t0 = 0; t0 < time; t0 += chunk) {
        int t1 = Math.min(time, t0 + chunk);
        Map<String, Tensor> f = new LinkedHashMap<>(states);
        for (String k : feeds.keySet()) {
          if (k.contains(PLACEHOLDER)) continue;
          f.put(k, k.endsWith("_dim0_size") ? TimeChunks.lengths(chunkLengths, t0, t1) : TimeChunks.slice(feeds.get(k), t0, t1));
        }
        last = s.run(f, fetches);
        outs.add(last.get(out));
        for (String k : new ArrayList<>(states.keySet())) states.put(k, last.get(k.replace(PLACEHOLDER, LAST)));
      }
      Tensor joined = TimeChunks.concat(outs);
      Map<String, Tensor> ref = expected;
      if (vsTf) {
        ref = new LinkedHashMap<>();
        for (var e : (Iterable<Map.Entry<String, JsonNode>>) tfChunked.path("outputs")::fields) {
          ref.put(e.getKey(), Npy.read(ZOO.root().resolve(e.getValue().path("file").asText())));
        }
        assertTrue(ref.containsKey(out), m.name() + ": no chunked TF output " + out);
        // That reference really is a different one: TF in chunks differs from TF's full run here.
        Comparison differs = Comparison.of("TF chunked vs TF full", validFrames(ref.get(out), lens),
            validFrames(expected.get(out), lens));
        assertTrue(differs.maxAbs() > 10 * TOL, "the chunked reference should differ from the full run here: " + differs);
      }
      String against = vsTf ? "TF in chunks" : "the full run";
      // Against the full run only the valid frames count (the chunks were fed each sequence's own length).
      Comparison c = Comparison.of(m.name() + " chunks of " + chunk + " vs " + against,
          vsTf ? ref.get(out) : validFrames(ref.get(out), lens), vsTf ? joined : validFrames(joined, lens));
      assertTrue(c.ok(TOL, DType.FLOAT), c.toString());
      for (String k : states.keySet()) {
        String o = k.replace(PLACEHOLDER, LAST);
        if (!ref.containsKey(o)) continue;
        Comparison cs = Comparison.of(m.name() + " " + o + " after chunks vs " + against, ref.get(o), last.get(o));
        assertTrue(cs.ok(TOL, DType.FLOAT), cs.toString());
      }
    }
  }

  /** [B,T,...] with the frames at or past each sequence's length set to zero (RETURNN leaves them undefined). */
  static Tensor validFrames(Tensor t, int[] lens) {
    long b = t.shape()[0], time = t.shape()[1], frame = t.size() / b / time;
    double[] v = new double[(int) t.size()];
    for (int i = 0; i < b; i++)
      for (int j = 0; j < lens[i]; j++)
        for (int k = 0; k < frame; k++) {
          int idx = (int) ((i * time + j) * frame + k);
          v[idx] = t.getDouble(idx);
        }
    return Tensor.fromDoubles(t.dtype(), t.shape(), v);
  }
}
