package returnn.onnx.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * RASR's {@code stateful-onnx} label scorer (src/Nn/LabelScorer/StatefulOnnxLabelScorer.cc) on the plain ONNX Runtime
 * API, step for step:
 * <ul>
 *   <li>the io-map roles: initializer {@code encoder-states} (float [1,T,F]) and {@code encoder-states-size} (int32
 *       [1] = T), updater {@code token} (int32 [B]), scorer {@code scores} (float [B,V]) (cc:99-146, 176-181);</li>
 *   <li>the hidden states from the custom metadata: a key naming an initializer output, an updater input or output,
 *       a scorer input maps that ONNX name to a state name; updater and scorer states must be initializer states
 *       (cc:183-242);</li>
 *   <li>one segment at a time, batch 1: the initializer runs once on the whole buffered segment (cc:393-457); a
 *       hypothesis' hidden state is the map state name → its own [1,...] slice;</li>
 *   <li>a batch of hypotheses: each state input is the concatenation of the hypotheses' slices on axis 0, the
 *       updater's outputs are sliced back per hypothesis (cc:459-514), the scorer gets the updated states
 *       concatenated the same way and its {@code scores} row b is hypothesis b's score vector (cc:548-593);</li>
 *   <li>the label scorer factory wraps every scorer in a ScaledLabelScorer, score × {@code scale} (default 1;
 *       LabelScorerFactory.cc:33-36, ScaledLabelScorer.cc), and RASR's searches add these scores and keep the
 *       smallest (costs; LexiconfreeLabelsyncBeamSearch.cc:458-471).</li>
 * </ul>
 */
final class RasrStatefulOnnxDriver implements AutoCloseable {
  /** A state slice or a batch: int32 or float32, row-major. */
  record Val(long[] shape, float[] f, int[] i) {
    int rows() {
      return (int) shape[0];
    }

    int rowSize() {
      int n = 1;
      for (int k = 1; k < shape.length; k++) n *= (int) shape[k];
      return n;
    }

    Val row(int b) {
      long[] s = shape.clone();
      s[0] = 1;
      int n = rowSize();
      return f != null ? new Val(s, java.util.Arrays.copyOfRange(f, b * n, (b + 1) * n), null)
          : new Val(s, null, java.util.Arrays.copyOfRange(i, b * n, (b + 1) * n));
    }

    static Val concat(List<Val> parts) {
      long[] s = parts.get(0).shape.clone();
      int rows = 0;
      for (Val p : parts) {
        assertEquals(s.length, p.shape.length, "rank of the state slices");
        for (int k = 1; k < s.length; k++) assertEquals(s[k], p.shape[k], "state slices of the batch differ in dim " + k);
        rows += p.rows();
      }
      s[0] = rows;
      int n = parts.get(0).rowSize(), at = 0;
      if (parts.get(0).f != null) {
        float[] out = new float[rows * n];
        for (Val p : parts) {
          System.arraycopy(p.f, 0, out, at, p.f.length);
          at += p.f.length;
        }
        return new Val(s, out, null);
      }
      int[] out = new int[rows * n];
      for (Val p : parts) {
        System.arraycopy(p.i, 0, out, at, p.i.length);
        at += p.i.length;
      }
      return new Val(s, null, out);
    }
  }

  final OrtEnvironment env = OrtEnvironment.getEnvironment();
  final OrtSession initializer, updater, scorer;
  final String encoderStates, encoderStatesSize;
  final Map<String, String> initOut = new LinkedHashMap<>(), updIn = new LinkedHashMap<>(), updOut = new LinkedHashMap<>(),
      scoreIn = new LinkedHashMap<>();
  final float scale;

  /** {@code scale}: the label scorer's {@code scale} key from the generated RASR config. */
  RasrStatefulOnnxDriver(byte[] init, byte[] upd, byte[] sc, float scale) throws OrtException {
    OrtSession.SessionOptions so = new OrtSession.SessionOptions(); // RASR's Session: threads only (Session.cc:57-58)
    so.setIntraOpNumThreads(1);
    so.setInterOpNumThreads(1);
    initializer = env.createSession(init, so);
    updater = env.createSession(upd, so);
    scorer = env.createSession(sc, so);
    this.scale = scale;
    // io-map: the initializer's float input is encoder-states, its int32 input encoder-states-size
    String es = null, ess = null;
    for (Map.Entry<String, NodeInfo> e : initializer.getInputInfo().entrySet()) {
      TensorInfo t = (TensorInfo) e.getValue().getInfo();
      if (t.type == OnnxJavaType.FLOAT) {
        assertEquals(3, t.getShape().length, "encoder-states [B,T,F]");
        es = e.getKey();
      } else {
        assertEquals(OnnxJavaType.INT32, t.type, "encoder-states-size is int32");
        assertEquals(1, t.getShape().length, "encoder-states-size [B]");
        ess = e.getKey();
      }
    }
    assertTrue(es != null && ess != null, "the initializer takes encoder-states and encoder-states-size");
    encoderStates = es;
    encoderStatesSize = ess;
    TensorInfo tok = (TensorInfo) updater.getInputInfo().get("token").getInfo();
    assertEquals(OnnxJavaType.INT32, tok.type, "token int32");
    assertEquals(1, tok.getShape().length, "token [B]");
    TensorInfo scores = (TensorInfo) scorer.getOutputInfo().get("scores").getInfo();
    assertEquals(OnnxJavaType.FLOAT, scores.type, "scores float");
    assertEquals(2, scores.getShape().length, "scores [B,V]");
    // the state maps, as the constructor builds them
    Set<String> initStates = new HashSet<>();
    for (Map.Entry<String, String> e : initializer.getMetadata().getCustomMetadata().entrySet()) {
      if (initializer.getOutputNames().contains(e.getKey())) {
        initOut.put(e.getKey(), e.getValue());
        initStates.add(e.getValue());
      }
    }
    assertFalse(initStates.isEmpty(), "State initializer does not define any hidden states.");
    for (Map.Entry<String, String> e : updater.getMetadata().getCustomMetadata().entrySet()) {
      if (updater.getInputNames().contains(e.getKey())) {
        assertTrue(initStates.contains(e.getValue()), "updater input " + e.getKey() + ": state " + e.getValue() + " not in the initializer");
        updIn.put(e.getKey(), e.getValue());
      }
      if (updater.getOutputNames().contains(e.getKey())) {
        assertTrue(initStates.contains(e.getValue()), "updater output " + e.getKey() + ": state " + e.getValue() + " not in the initializer");
        updOut.put(e.getKey(), e.getValue());
      }
    }
    assertFalse(updOut.isEmpty(), "State updater does not produce any updated hidden states");
    assertEquals(initStates, new HashSet<>(updOut.values()), "every initializer state is updated");
    for (Map.Entry<String, String> e : scorer.getMetadata().getCustomMetadata().entrySet()) {
      if (scorer.getInputNames().contains(e.getKey())) {
        assertTrue(initStates.contains(e.getValue()), "scorer input " + e.getKey() + ": state " + e.getValue() + " not in the initializer");
        scoreIn.put(e.getKey(), e.getValue());
      }
    }
    assertFalse(scoreIn.isEmpty(), "Scorer does not take any input");
    // every input RASR feeds is one of these (no input left unfed)
    Set<String> fed = new HashSet<>(updIn.keySet());
    fed.add("token");
    assertEquals(fed, updater.getInputNames(), "updater inputs");
    assertEquals(scoreIn.keySet(), scorer.getInputNames(), "scorer inputs");
  }

  /** computeInitialHiddenState: one segment's features [T,F] → the hidden state (state name → [1,...]). */
  Map<String, Val> initial(float[] features, int frames, int dim) throws OrtException {
    try (OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(features), new long[] {1, frames, dim});
         OnnxTensor len = OnnxTensor.createTensor(env, IntBuffer.wrap(new int[] {frames}), new long[] {1});
         OrtSession.Result r = initializer.run(Map.of(encoderStates, x, encoderStatesSize, len), initOut.keySet())) {
      Map<String, Val> st = new HashMap<>();
      for (Map.Entry<String, String> e : initOut.entrySet()) st.put(e.getValue(), val((OnnxTensor) r.get(e.getKey()).orElseThrow()));
      return st;
    }
  }

  /** updatedHiddenStates: the hypotheses' states and their next tokens, one updater call. */
  List<Map<String, Val>> update(List<Map<String, Val>> hyps, int[] tokens) throws OrtException {
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    try {
      feeds.put("token", OnnxTensor.createTensor(env, IntBuffer.wrap(tokens), new long[] {tokens.length}));
      for (Map.Entry<String, String> e : updIn.entrySet()) {
        List<Val> parts = new ArrayList<>();
        for (Map<String, Val> h : hyps) parts.add(h.get(e.getValue()));
        feeds.put(e.getKey(), tensor(Val.concat(parts)));
      }
      try (OrtSession.Result r = updater.run(feeds, updOut.keySet())) {
        List<Map<String, Val>> out = new ArrayList<>();
        for (int b = 0; b < hyps.size(); b++) out.add(new HashMap<>());
        for (Map.Entry<String, String> e : updOut.entrySet()) {
          Val v = val((OnnxTensor) r.get(e.getKey()).orElseThrow());
          assertEquals(hyps.size(), v.rows(), "updater output " + e.getKey() + " rows");
          for (int b = 0; b < hyps.size(); b++) out.get(b).put(e.getValue(), v.row(b));
        }
        return out;
      }
    } finally {
      for (OnnxTensor t : feeds.values()) t.close();
    }
  }

  /** cacheScores then the ScaledScoreAccessor: per hypothesis its score vector × scale. */
  float[][] scores(List<Map<String, Val>> hyps) throws OrtException {
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, String> e : scoreIn.entrySet()) {
        List<Val> parts = new ArrayList<>();
        for (Map<String, Val> h : hyps) parts.add(h.get(e.getValue()));
        feeds.put(e.getKey(), tensor(Val.concat(parts)));
      }
      try (OrtSession.Result r = scorer.run(feeds, Set.of("scores"))) {
        Val v = val((OnnxTensor) r.get("scores").orElseThrow());
        assertEquals(hyps.size(), v.rows(), "scores rows");
        float[][] out = new float[hyps.size()][];
        for (int b = 0; b < out.length; b++) {
          out[b] = v.row(b).f();
          for (int k = 0; k < out[b].length; k++) out[b][k] *= scale;
        }
        return out;
      }
    } finally {
      for (OnnxTensor t : feeds.values()) t.close();
    }
  }

  /**
   * RASR's OnnxHiddenStateScoringContext (StatefulOnnxLabelScorer.cc:40-64): the label sequence, the hidden state and
   * whether the updater still has to run on the last label ({@code requiresFinalize}: {@code state} is then the
   * parent's).
   */
  static final class Context {
    final List<Integer> labelSeq;
    Map<String, Val> state;
    boolean requiresFinalize;

    Context(List<Integer> labelSeq, Map<String, Val> state, boolean requiresFinalize) {
      this.labelSeq = labelSeq;
      this.state = state;
      this.requiresFinalize = requiresFinalize;
    }

    int last() {
      return labelSeq.isEmpty() ? -1 : labelSeq.get(labelSeq.size() - 1);
    }
  }

  /** RASR's Nn::TransitionType (TransitionTypes.hh), the ones a search without silence produces. */
  enum Transition { INITIAL_LABEL, INITIAL_BLANK, LABEL_TO_LABEL, LABEL_LOOP, LABEL_TO_BLANK, BLANK_TO_LABEL, BLANK_LOOP }

  /**
   * LexiconfreeTimesyncBeamSearch::inferTransitionType (LexiconfreeTimesyncBeamSearch.cc:677-725) without silence:
   * {@code prev} -1 is the initial context (invalidLabelIndex); a repeat is a LABEL_LOOP only with
   * {@code collapse-repeated-labels} (default false, cc:140-142).
   */
  static Transition transition(int prev, int next, int blank, boolean collapseRepeated) {
    if (prev < 0) return next == blank ? Transition.INITIAL_BLANK : Transition.INITIAL_LABEL;
    if (prev == blank) return next == blank ? Transition.BLANK_LOOP : Transition.BLANK_TO_LABEL;
    if (next == blank) return Transition.LABEL_TO_BLANK;
    return collapseRepeated && prev == next ? Transition.LABEL_LOOP : Transition.LABEL_TO_LABEL;
  }

  /**
   * extendedScoringContext (StatefulOnnxLabelScorer.cc:270-316): whether the transition updates the state is decided
   * by {@code blank-updates-history} / {@code loop-updates-history} (cc:74-87, defaults false); if not, the same
   * context comes back (same label sequence, same state); else a new context with the token appended whose state
   * the updater computes when it is next scored (requiresFinalize).
   */
  Context extend(Context c, int token, Transition t, boolean blankUpdatesHistory, boolean loopUpdatesHistory) {
    boolean update = switch (t) {
      case BLANK_LOOP -> blankUpdatesHistory && loopUpdatesHistory;
      case LABEL_TO_BLANK, INITIAL_BLANK -> blankUpdatesHistory;
      case LABEL_LOOP -> loopUpdatesHistory;
      case BLANK_TO_LABEL, LABEL_TO_LABEL, INITIAL_LABEL -> true;
    };
    if (!update) return c;
    assertFalse(c.requiresFinalize, "a context is scored (finalized) before it is extended");
    List<Integer> seq = new ArrayList<>(c.labelSeq);
    seq.add(token);
    return new Context(seq, c.state, true);
  }

  /**
   * getScoreAccessors (cc:325-389) on contexts: the ones that require finalizing get their states from one updater
   * call (cacheStates: the parents' states concatenated, token = each one's last label), then one scorer call on all;
   * each score vector's timeframe is the context's label sequence length (cc:585-587). Returns the scores × scale.
   */
  float[][] scoreContexts(List<Context> cs) throws OrtException {
    List<Context> pending = new ArrayList<>();
    for (Context c : cs) if (c.requiresFinalize && !pending.contains(c)) pending.add(c);
    if (!pending.isEmpty()) {
      List<Map<String, Val>> parents = new ArrayList<>();
      int[] tokens = new int[pending.size()];
      for (int b = 0; b < tokens.length; b++) {
        parents.add(pending.get(b).state);
        tokens[b] = pending.get(b).last();
      }
      List<Map<String, Val>> next = update(parents, tokens);
      for (int b = 0; b < tokens.length; b++) {
        pending.get(b).state = next.get(b);
        pending.get(b).requiresFinalize = false;
      }
    }
    List<Map<String, Val>> states = new ArrayList<>();
    for (Context c : cs) states.add(c.state);
    return scores(states);
  }

  OnnxTensor tensor(Val v) throws OrtException {
    return v.f() != null ? OnnxTensor.createTensor(env, FloatBuffer.wrap(v.f()), v.shape())
        : OnnxTensor.createTensor(env, IntBuffer.wrap(v.i()), v.shape());
  }

  static Val val(OnnxTensor t) {
    long[] shape = t.getInfo().getShape();
    if (t.getInfo().type == OnnxJavaType.FLOAT) {
      FloatBuffer b = t.getFloatBuffer();
      float[] f = new float[b.remaining()];
      b.get(f);
      return new Val(shape, f, null);
    }
    assertEquals(OnnxJavaType.INT32, t.getInfo().type, "states are float32 or int32 (RASR's Onnx::Value)");
    IntBuffer b = t.getIntBuffer();
    int[] i = new int[b.remaining()];
    b.get(i);
    return new Val(shape, null, i);
  }

  @Override
  public void close() throws OrtException {
    initializer.close();
    updater.close();
    scorer.close();
  }
}
