package returnn.onnx.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.fixtures.lstm.LstmTwin;
import returnn.onnx.fixtures.transformer.TransformerFixtures;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;

/**
 * Converted models driven the way RASR drives them (src/Onnx, src/Nn/TransformerStateManager.hh,
 * src/Lm/OnnxRecurrentLanguageModel.cc), on ONNX Runtime's plain API only, in whichever ONNX Runtime this run has
 * (1.15.1, 1.20.0, 1.23.2): the inputs come from the session's own list, the states from the {@code STATE_} metadata,
 * fresh states are zeros shaped from the declared input shapes, and every result equals TensorFlow's full-sequence run
 * (1e-5) on its real frames.
 * <ul>
 *   <li>acoustic models (BLSTM, Conformer) as a batch-1 feature scorer over whole segments of different lengths;
 *   <li>the LSTM LM chunk by chunk, a batch of hypotheses with different chunk lengths per call;
 *   <li>the Transformer LM with RASR's transformer state manager: per call, every hypothesis's cached per-position
 *       states right-aligned (left-padded) to the longest prefix, {@code prefix-length} feeding the true lengths,
 *       the new positions' states read from the output's time axis after {@code output_time - max_suffix}.
 *   <li>(in {@link ZooRasrConsumerTest}) the step-by-step encoder–decoder models as RASR's {@code stateful-onnx}
 *       label scorer ({@link RasrStatefulOnnxDriver}), against TensorFlow's step-by-step graph per segment.
 * </ul>
 */
class RasrStyleConsumerTest {
  static final double TOL = 1e-5;
  static final String DATA = Fixtures.DATA, LENGTHS = Fixtures.DATA_LENGTHS, OUTPUT = "output/output_batch_major";

  @TempDir
  Path dir;

  final OrtEnvironment env = OrtEnvironment.getEnvironment();

  /** A converted model and TF's output for a padded batch. */
  record Prepared(byte[] onnx, Tensor data, int[] lengths, Tensor tf, org.tensorflow.proto.GraphDef graph, Path checkpoint, String fetch) {}

  Prepared prepare(Fixture f, boolean state, int[] lengths, boolean twin) {
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Converter.Result conv = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), List.of(f.outputs().get(0))).withState(state, false));
    Map<String, Tensor> feeds = f.randomFeeds(21, lengths);
    Tensor tf = TfReference.run(twin ? LstmTwin.of(f.graph()) : f.graph(), w.checkpointPrefix(), feeds, List.of(f.outputs().get(0)))
        .get(f.outputs().get(0));
    return new Prepared(conv.toBytes(), feeds.get(DATA + ":0"), lengths, tf, twin ? LstmTwin.of(f.graph()) : f.graph(),
        w.checkpointPrefix(), f.outputs().get(0));
  }

  OrtSession open(byte[] model) throws OrtException {
    OrtSession.SessionOptions so = new OrtSession.SessionOptions(); // RASR sets threads only
    so.setIntraOpNumThreads(1);
    so.setInterOpNumThreads(1);
    return env.createSession(model, so);
  }

  /** RASR's Session::initializeStateVariablesMetadata: STATE_<input> = <output>, inputs looked up in the session. */
  static Map<String, String> stateVariables(OrtSession s) throws OrtException {
    Map<String, String> states = new TreeMap<>();
    for (Map.Entry<String, String> e : s.getMetadata().getCustomMetadata().entrySet()) {
      if (!e.getKey().startsWith("STATE_")) continue;
      String input = e.getKey().substring("STATE_".length());
      assertTrue(s.getInputNames().contains(input), "state input " + input + " is listed by the session");
      assertTrue(s.getOutputNames().contains(e.getValue()), "state output " + e.getValue() + " is listed by the session");
      states.put(input, e.getValue());
    }
    return states;
  }

  static long[] declaredShape(OrtSession s, String input) throws OrtException {
    NodeInfo info = s.getInputInfo().get(input);
    return ((TensorInfo) info.getInfo()).getShape();
  }

  OnnxTensor floats(float[] v, long... shape) throws OrtException {
    return OnnxTensor.createTensor(env, FloatBuffer.wrap(v), shape);
  }

  OnnxTensor ints(int[] v, long... shape) throws OrtException {
    return OnnxTensor.createTensor(env, IntBuffer.wrap(v), shape);
  }

  static float[] read(OrtSession.Result r, String name) throws OrtException {
    OnnxTensor t = (OnnxTensor) r.get(name).orElseThrow();
    FloatBuffer b = t.getFloatBuffer();
    float[] v = new float[b.remaining()];
    b.get(v);
    return v;
  }

  static long[] shapeOf(OrtSession.Result r, String name) throws OrtException {
    return ((OnnxTensor) r.get(name).orElseThrow()).getInfo().getShape();
  }

  /** Largest difference to TF over the real frames of each sequence; {@code got} is [B,T,V] like TF's output. */
  static double realFrameError(Tensor tf, float[] got, int[] lengths) {
    float[] want = tf.toFloats();
    long time = tf.shape()[1], vocab = tf.shape()[2];
    double worst = 0;
    for (int b = 0; b < lengths.length; b++) {
      for (long i = b * time * vocab; i < (b * time + lengths[b]) * vocab; i++) worst = Math.max(worst, Math.abs(want[(int) i] - got[(int) i]));
    }
    return worst;
  }

  // ---- acoustic models: onnx-feature-scorer, batch 1, a whole segment per call --------------------------------------

  /** Each segment alone through the model (batch 1) and through TF (the original graph on that segment alone). */
  void featureScorer(Fixture f, boolean twin, int[] segments) throws OrtException {
    Prepared p = prepare(f, false, segments, twin);
    float[] feats = p.data().toFloats();
    long time = p.data().shape()[1], dim = p.data().shape()[2];
    double worst = 0;
    try (OrtSession s = open(p.onnx())) {
      assertEquals(java.util.Set.of(DATA, LENGTHS), new java.util.HashSet<>(s.getInputNames()), "features and features-size");
      long[] declared = declaredShape(s, DATA);
      assertEquals(3, declared.length);
      assertEquals(dim, declared[2], "feature dim static");
      assertTrue(stateVariables(s).isEmpty());
      for (int b = 0; b < segments.length; b++) {
        int t = segments[b];
        float[] seg = new float[(int) (t * dim)];
        System.arraycopy(feats, (int) (b * time * dim), seg, 0, seg.length);
        Map<String, Tensor> tfFeeds = Map.of(DATA + ":0", Tensor.ofFloats(new long[] {1, t, dim}, seg),
            LENGTHS + ":0", Tensor.ofInts(new long[] {1}, t));
        Tensor tf = TfReference.run(p.graph(), p.checkpoint(), tfFeeds, List.of(p.fetch())).get(p.fetch());
        try (OnnxTensor x = floats(seg, 1, t, dim); OnnxTensor len = ints(new int[] {t}, 1);
             OrtSession.Result r = s.run(Map.of(DATA, x, LENGTHS, len), java.util.Set.of(OUTPUT))) {
          long[] shape = shapeOf(r, OUTPUT);
          assertTrue(shape[2] > 0 && ((TensorInfo) s.getOutputInfo().get(OUTPUT).getInfo()).getShape()[2] == shape[2], "class dim static");
          float[] y = read(r, OUTPUT);
          float[] want = tf.toFloats();
          assertEquals(want.length, y.length);
          for (int i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(want[i] - y[i]));
        }
      }
    }
    System.out.println("ORT " + OrtCompatibilityTest.loadedVersion() + " RASR feature scorer " + f.name() + ": max abs vs TF " + worst);
    assertTrue(worst < TOL, f.name() + " off by " + worst);
  }

  @Test
  void blstmAsBatchOneFeatureScorer() throws OrtException {
    featureScorer(LstmFixtures.biLstm(VariableKind.RESOURCE), true, new int[] {9, 5, 1});
  }

  @Test
  void conformerAsBatchOneFeatureScorer() throws OrtException {
    featureScorer(TransformerFixtures.conformer(VariableKind.RESOURCE, TransformerFixtures.smallConformer(), 2), false,
        new int[] {16, 11, 6});
  }

  // ---- LSTM LM: RASR's lstm state manager ------------------------------------------------------------------------------

  /** Chunk lengths per call (rows) and hypothesis (columns); column sums are the sequence lengths. */
  static final int[][] CHUNKS = {{2, 1, 3}, {0, 3, 1}, {4, 1, 0}};
  static final int[] SEQ = {6, 5, 4};

  @Test
  void lstmLmChunkByChunk() throws OrtException {
    Prepared p = prepare(LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false,
        LstmFixtures.Sizes.TEST), true, SEQ, true);
    try (OrtSession s = open(p.onnx())) {
      Map<String, String> states = stateVariables(s);
      assertEquals(4, states.size(), states.toString());
      Map<String, float[]> carried = new HashMap<>();
      Map<String, long[]> shapes = new HashMap<>();
      for (String in : states.keySet()) {
        long[] shape = declaredShape(s, in);
        assertEquals(2, shape.length, in + ": [B,H]");
        assertEquals(-1, shape[0]);
        assertTrue(shape[1] > 0, in + ": H static");
        shapes.put(in, new long[] {SEQ.length, shape[1]});
        carried.put(in, new float[(int) (SEQ.length * shape[1])]); // the lstm manager starts from zeros
      }
      float[] got = run(s, p, states, carried, shapes, null);
      double err = realFrameError(p.tf(), got, SEQ);
      System.out.println("ORT " + OrtCompatibilityTest.loadedVersion() + " RASR LSTM LM chunk by chunk: max abs vs TF " + err);
      assertTrue(err < TOL, "off by " + err);
    }
  }

  /**
   * Runs {@link #CHUNKS}: word [B,L] right-padded, word-length; {@code carried} holds the LSTM states (replaced by each
   * call's outputs) or, with {@code transformer}, is unused. Returns the outputs at their sequence positions, [B,T,V].
   */
  float[] run(OrtSession s, Prepared p, Map<String, String> states, Map<String, float[]> carried, Map<String, long[]> shapes,
      TransformerCache transformer) throws OrtException {
    return run(s, p.data(), p.tf().shape(), CHUNKS, SEQ, states, carried, shapes, transformer);
  }

  /** {@link #run} with the data [B,T] labels, the output shape [B,T,V], a chunk schedule and the sequence lengths. */
  float[] run(OrtSession s, Tensor data, long[] outShape, int[][] chunks, int[] seq, Map<String, String> states,
      Map<String, float[]> carried, Map<String, long[]> shapes, TransformerCache transformer) throws OrtException {
    final int[] SEQ = seq;
    final int[][] CHUNKS = chunks;
    int[] words = data.toInts();
    long time = data.shape()[1], vocab = outShape[2];
    float[] got = new float[(int) (outShape[0] * outShape[1] * outShape[2])];
    int[] done = new int[SEQ.length];
    for (int[] chunk : CHUNKS) {
      int width = 0;
      for (int l : chunk) width = Math.max(width, l);
      int[] w = new int[SEQ.length * width];
      for (int b = 0; b < SEQ.length; b++) for (int t = 0; t < chunk[b]; t++) w[b * width + t] = words[(int) (b * time + done[b] + t)];
      Map<String, OnnxTensor> in = new LinkedHashMap<>();
      try {
        in.put(DATA, ints(w, SEQ.length, width));
        if (s.getInputNames().contains(LENGTHS)) in.put(LENGTHS, ints(chunk.clone(), SEQ.length));
        if (transformer != null) {
          transformer.merge(in);
        } else {
          for (String st : states.keySet()) in.put(st, floats(carried.get(st), shapes.get(st)));
        }
        // The network output: the one output that is not a state (output/rec/... for a network inside a rec unit).
        String output = s.getOutputNames().stream().filter(o -> !states.containsValue(o)).findFirst().orElseThrow();
        List<String> targets = new ArrayList<>(List.of(output));
        targets.addAll(states.values());
        try (OrtSession.Result r = s.run(in, new java.util.LinkedHashSet<>(targets))) {
          float[] y = read(r, output);
          for (int b = 0; b < SEQ.length; b++) {
            for (int t = 0; t < chunk[b]; t++) {
              System.arraycopy(y, (int) ((b * width + t) * vocab), got, (int) ((b * time + done[b] + t) * vocab), (int) vocab);
            }
          }
          if (transformer != null) {
            transformer.split(r, chunk);
          } else {
            for (Map.Entry<String, String> e : states.entrySet()) carried.put(e.getKey(), read(r, e.getValue()));
          }
        }
      } finally {
        for (OnnxTensor t : in.values()) t.close();
      }
      for (int b = 0; b < SEQ.length; b++) done[b] += chunk[b];
    }
    return got;
  }

  // ---- Transformer LM: RASR's transformer state manager ----------------------------------------------------------------

  /** Per hypothesis and state variable, the cached state of every position (one [H,d] slice per position). */
  final class TransformerCache {
    final Map<String, String> states;
    final Map<String, long[]> declared = new HashMap<>();
    final Map<String, List<List<float[]>>> cache = new HashMap<>();
    final String prefixLength;
    final boolean maskPrefix;

    final int batch;

    TransformerCache(OrtSession s, Map<String, String> states, String prefixLength, boolean maskPrefix) throws OrtException {
      this(s, states, prefixLength, maskPrefix, SEQ.length);
    }

    TransformerCache(OrtSession s, Map<String, String> states, String prefixLength, boolean maskPrefix, int batch) throws OrtException {
      this.batch = batch;
      this.states = states;
      this.prefixLength = prefixLength;
      this.maskPrefix = maskPrefix;
      for (String in : states.keySet()) {
        long[] shape = declaredShape(s, in);
        assertTrue(shape.length >= 2 && shape[0] == -1, in + ": batch on axis 0");
        int dynamic = 0;
        for (int i = 1; i < shape.length; i++) if (shape[i] < 0) dynamic++;
        assertEquals(1, dynamic, in + ": one dynamic time axis, other axes static: " + java.util.Arrays.toString(shape));
        declared.put(in, shape);
        List<List<float[]>> perSeq = new ArrayList<>();
        for (int b = 0; b < batch; b++) perSeq.add(new ArrayList<>()); // starts with time length 0
        cache.put(in, perSeq);
      }
    }

    int timeAxis(long[] shape) {
      for (int i = 1; i < shape.length; i++) if (shape[i] < 0) return i;
      throw new AssertionError();
    }

    /** mergeStates: a zero tensor [B,…,P_max,…] with every prefix right-aligned, plus prefix-length. */
    void merge(Map<String, OnnxTensor> in) throws OrtException {
      int[] lengths = new int[batch];
      int max = 0;
      for (String st : states.keySet()) {
        for (int b = 0; b < batch; b++) {
          lengths[b] = cache.get(st).get(b).size();
          max = Math.max(max, lengths[b]);
        }
        long[] shape = declared.get(st).clone();
        int axis = timeAxis(shape);
        shape[0] = batch;
        shape[axis] = max;
        long outer = 1, inner = 1;
        for (int i = 1; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.length; i++) inner *= shape[i];
        float[] t = new float[(int) (batch * outer * max * inner)];
        for (int b = 0; b < batch; b++) {
          List<float[]> prefix = cache.get(st).get(b);
          for (int p = 0; p < prefix.size(); p++) {
            float[] slice = prefix.get(p);
            int pos = max - prefix.size() + p;
            for (long o = 0; o < outer; o++) {
              System.arraycopy(slice, (int) (o * inner), t, (int) (((b * outer + o) * max + pos) * inner), (int) inner);
            }
          }
        }
        in.put(st, floats(t, shape));
      }
      int[] fed = lengths.clone();
      if (!maskPrefix) java.util.Arrays.fill(fed, max); // as if the padding were real: must fail
      in.put(prefixLength, ints(fed, batch));
    }

    /** splitStates: the new positions' states at output_time - max_suffix + p. */
    void split(OrtSession.Result r, int[] suffix) throws OrtException {
      int maxSuffix = 0;
      for (int l : suffix) maxSuffix = Math.max(maxSuffix, l);
      for (Map.Entry<String, String> e : states.entrySet()) {
        long[] shape = shapeOf(r, e.getValue());
        float[] v = read(r, e.getValue());
        int axis = timeAxis(declared.get(e.getKey()));
        long outer = 1, inner = 1;
        for (int i = 1; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.length; i++) inner *= shape[i];
        long total = shape[axis], maxPrefix = total - maxSuffix;
        for (int b = 0; b < batch; b++) {
          for (int p = 0; p < suffix[b]; p++) {
            float[] slice = new float[(int) (outer * inner)];
            for (long o = 0; o < outer; o++) {
              System.arraycopy(v, (int) (((b * outer + o) * total + maxPrefix + p) * inner), slice, (int) (o * inner), (int) inner);
            }
            cache.get(e.getKey()).get(b).add(slice);
          }
        }
      }
    }
  }

  double transformerLm(boolean maskPrefix) throws OrtException {
    Prepared p = prepare(TransformerFixtures.causalLm(VariableKind.RESOURCE, 2, false), true, SEQ, false);
    try (OrtSession s = open(p.onnx())) {
      Map<String, String> states = stateVariables(s);
      assertEquals(4, states.size(), states.toString());
      assertTrue(s.getInputNames().contains("prefix-length"));
      long[] prefixShape = declaredShape(s, "prefix-length");
      assertEquals(1, prefixShape.length);
      assertFalse(states.containsKey("prefix-length"));
      TransformerCache cache = new TransformerCache(s, states, "prefix-length", maskPrefix);
      float[] got = run(s, p, states, null, null, cache);
      return realFrameError(p.tf(), got, SEQ);
    }
  }

  @Test
  void transformerLmWithLeftPaddedPrefixes() throws OrtException {
    double err = transformerLm(true);
    System.out.println("ORT " + OrtCompatibilityTest.loadedVersion() + " RASR Transformer LM, left-padded prefixes: max abs vs TF " + err);
    assertTrue(err < TOL, "off by " + err);
    double unmasked = transformerLm(false);
    System.out.println("  prefix-length fed as if the padding were real: max abs vs TF " + unmasked);
    assertTrue(unmasked > 100 * TOL, "without the mask the result must differ: " + unmasked);
  }
}
