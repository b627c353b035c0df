package returnn.onnx.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.lstm.LstmTwin;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.Npy;
import returnn.onnx.tf.GraphReader;

/**
 * {@link RasrStyleConsumerTest}'s RASR-style drivers on the real RETURNN models of {@code returnn-zoo/} (compiled by
 * RETURNN's own {@code compile_tf_graph.py}): the LMs converted with {@code --state} and run chunk by chunk with the
 * plain ONNX Runtime API (LSTM LMs: different chunk lengths per hypothesis, against the recorded full run; the
 * Transformer LM with RASR's left-padded prefixes and {@code prefix-length}, against TensorFlow run in the same chunks,
 * since RETURNN's positional encoding restarts in every call), the acoustic models as a batch-1 feature scorer per
 * segment against TensorFlow on that segment (RETURNN's native LSTM ops through their TF twin).
 */
class ZooRasrConsumerTest extends RasrStyleConsumerTest {
  static Path zoo() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.isRegularFile(dir.resolve("returnn-zoo/manifest.json"))) dir = dir.getParent();
    return dir == null ? null : dir.resolve("returnn-zoo");
  }

  static Tensor npy(Path root, JsonNode io, String name) {
    return Npy.read(root.resolve(io.get(name).get("file").asText()));
  }

  @TestFactory
  Stream<DynamicTest> zooModelsDrivenAsRasrDoes() throws IOException {
    Path root = zoo();
    assertTrue(root != null, "returnn-zoo/manifest.json not found");
    JsonNode manifest = new ObjectMapper().readTree(root.resolve("manifest.json").toFile());
    List<DynamicTest> tests = new ArrayList<>();
    for (JsonNode m : manifest.get("models")) {
      String name = m.get("name").asText(), kind = m.get("kind").asText();
      String first = m.get("outputs").fieldNames().next();
      if (kind.equals("lm")) tests.add(DynamicTest.dynamicTest(name, () -> lm(root, m)));
      else if (first.equals(OUTPUT)) tests.add(DynamicTest.dynamicTest(name, () -> acoustic(root, m)));
    }
    return tests.stream();
  }

  void lm(Path root, JsonNode m) throws OrtException {
    String name = m.get("name").asText();
    Path graph = root.resolve(m.get("graph").asText()), ckpt = root.resolve(m.get("checkpoint").asText());
    String out = m.get("outputs").fieldNames().next(); // output/output_batch_major, or output/rec/... inside a rec unit
    Converter.Result conv = Converter.convert(ConvertOptions.of(graph, ckpt, List.of(out)).withState(true, false));
    Tensor data = npy(root, m.get("inputs"), DATA);
    int[] lens = new int[m.get("lengths").size()];
    for (int i = 0; i < lens.length; i++) lens[i] = m.get("lengths").get(i).asInt();
    // TF run in chunks of the same size (the zoo's "chunked"), where RETURNN's positional encoding restarts per call.
    JsonNode chunked = m.path("chunked");
    Tensor reference = chunked.isMissingNode() ? npy(root, m.get("outputs"), out) : npy(root, chunked.get("outputs"), out);
    int chunk = chunked.isMissingNode() ? 0 : chunked.get("chunk").asInt();
    try (OrtSession s = open(conv.toBytes())) {
      Map<String, String> states = stateVariables(s);
      assertFalse(states.isEmpty(), name + ": no STATE_ metadata");
      float[] got;
      String prefix = s.getInputNames().contains("prefix-length") ? "prefix-length" : null;
      int[][] schedule = chunk > 0 ? sameChunks(lens, chunk) : mixedChunks(lens);
      if (prefix != null && chunk == 0) {
        // A Transformer LM converted from its full-sequence graph: RETURNN's positional encoding counts from 0 in every
        // call, so only whole sequences in one call equal the full run (known limitation, printed below).
        float[] split = run(s, data, reference.shape(), schedule, lens, states, null, null, new TransformerCache(s, states, prefix, true, lens.length));
        System.out.println("ORT " + OrtCompatibilityTest.loadedVersion() + " zoo " + name + " in mixed chunks vs the full run "
            + "(positions restart per call; not checked): max abs " + realFrameError(reference, split, lens));
        schedule = new int[][] {lens};
      }
      if (prefix != null) {
        got = run(s, data, reference.shape(), schedule, lens, states, null, null, new TransformerCache(s, states, prefix, true, lens.length));
      } else {
        Map<String, float[]> carried = new HashMap<>();
        Map<String, long[]> shapes = new HashMap<>();
        for (String in : states.keySet()) {
          long[] shape = declaredShape(s, in);
          assertEquals(2, shape.length, in + ": [B,H]");
          assertTrue(shape[1] > 0, in + ": H static");
          shapes.put(in, new long[] {lens.length, shape[1]});
          carried.put(in, new float[(int) (lens.length * shape[1])]);
        }
        got = run(s, data, reference.shape(), schedule, lens, states, carried, shapes, null);
      }
      double err = realFrameError(reference, got, lens);
      System.out.println("ORT " + OrtCompatibilityTest.loadedVersion() + " zoo " + name + " RASR-style LM ("
          + (prefix != null ? (chunk > 0 ? "transformer, left-padded prefixes, chunks of " + chunk : "transformer, whole sequences") : "lstm, mixed chunk lengths") + "): max abs " + err);
      assertTrue(err < TOL, name + " off by " + err);
    }
  }

  /** Every hypothesis takes {@code chunk} frames a call (RETURNN's positional encoding restarts per call). */
  static int[][] sameChunks(int[] lens, int chunk) {
    int max = 0;
    for (int l : lens) max = Math.max(max, l);
    int calls = (max + chunk - 1) / chunk;
    int[][] s = new int[calls][lens.length];
    for (int k = 0; k < calls; k++) for (int b = 0; b < lens.length; b++) s[k][b] = Math.max(0, Math.min(chunk, lens[b] - k * chunk));
    return s;
  }

  /** Different chunk lengths per hypothesis and call: 1, 2, 3, ... frames, shifted per hypothesis. */
  static int[][] mixedChunks(int[] lens) {
    List<int[]> calls = new ArrayList<>();
    int[] done = new int[lens.length];
    for (int k = 0; ; k++) {
      int[] c = new int[lens.length];
      boolean any = false;
      for (int b = 0; b < lens.length; b++) {
        c[b] = Math.min(1 + (k + b) % 3, lens[b] - done[b]);
        done[b] += c[b];
        any |= c[b] > 0;
      }
      if (!any) break;
      calls.add(c);
    }
    return calls.toArray(int[][]::new);
  }

  void acoustic(Path root, JsonNode m) throws OrtException {
    String name = m.get("name").asText();
    Path graphFile = root.resolve(m.get("graph").asText()), ckpt = root.resolve(m.get("checkpoint").asText());
    Converter.Result conv = Converter.convert(ConvertOptions.of(graphFile, ckpt, List.of(OUTPUT)));
    boolean nativeOps = m.path("native_ops").size() > 0;
    org.tensorflow.proto.GraphDef graph = GraphReader.read(graphFile).graph();
    if (nativeOps) graph = LstmTwin.of(graph);
    Tensor feats = npy(root, m.get("inputs"), DATA);
    int[] lens = new int[m.get("lengths").size()];
    for (int i = 0; i < lens.length; i++) lens[i] = m.get("lengths").get(i).asInt();
    long time = feats.shape()[1], dim = feats.shape()[2];
    float[] all = feats.toFloats();
    double worst = 0;
    try (OrtSession s = open(conv.toBytes())) {
      assertTrue(s.getInputNames().contains(DATA) && s.getInputNames().contains(LENGTHS), s.getInputNames().toString());
      assertEquals(dim, declaredShape(s, DATA)[2], "feature dim static");
      for (int b = 0; b < lens.length; b++) {
        int t = lens[b];
        float[] seg = new float[(int) (t * dim)];
        System.arraycopy(all, (int) (b * time * dim), seg, 0, seg.length);
        Tensor tf = TfReference.run(graph, ckpt, Map.of(DATA + ":0", Tensor.ofFloats(new long[] {1, t, dim}, seg),
            LENGTHS + ":0", Tensor.ofInts(new long[] {1}, t)), List.of(OUTPUT + ":0")).get(OUTPUT + ":0");
        try (OnnxTensor x = floats(seg, 1, t, dim); OnnxTensor len = ints(new int[] {t}, 1);
             OrtSession.Result r = s.run(Map.of(DATA, x, LENGTHS, len), java.util.Set.of(OUTPUT))) {
          float[] y = read(r, OUTPUT), want = tf.toFloats();
          assertEquals(want.length, y.length, name + " segment " + b);
          for (int i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(want[i] - y[i]));
        }
      }
    }
    System.out.println("ORT " + OrtCompatibilityTest.loadedVersion() + " zoo " + name + " RASR feature scorer, batch 1 per segment: max abs " + worst);
    assertTrue(worst < TOL, name + " off by " + worst);
  }
}
