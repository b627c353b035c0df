package returnn.onnx.runtime;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Tensor;

/**
 * Greedy and beam search over the step-by-step models of {@code convert --step-by-step} (RASR's {@code stateful-onnx}
 * triple): the state initializer runs once on the encoder inputs, the scorer gives the log-probabilities [B, V] of
 * the next label from the states, the updater advances the states by the chosen label ({@code token}). States are
 * found by the metadata (ONNX name → state name), as RASR's {@code OnnxHiddenStateModel} does; every state has the
 * hypotheses on axis 0.
 */
public final class StepByStepDecoder implements AutoCloseable {
  /** The updater's input of the chosen labels. */
  public static final String TOKEN = "token";
  /** The scorer's output of the next label's scores. */
  public static final String SCORES = "scores";

  private final OnnxSession initializer;
  private final OnnxSession updater;
  private final OnnxSession scorer;
  /** ONNX output name → state, per model. */
  private final Map<String, String> initOut;
  private final Map<String, String> updIn;
  private final Map<String, String> updOut;
  private final Map<String, String> scoreIn;
  /** The scorer gives -log p ({@code convert --step-by-step --negate-scores}); {@link #scores} turns it back. */
  private final boolean negated;

  /** Greedy result: labels [B][steps], scores [steps][B][V]. */
  public record Greedy(int[][] labels, float[][][] scores) {}

  /**
   * A decoder of the three sessions, which it closes when closed.
   *
   * @param initializer the state initializer (runs the encoder)
   * @param updater the state updater (one label)
   * @param scorer the scorer (scores of the next label)
   */
  public StepByStepDecoder(OnnxSession initializer, OnnxSession updater, OnnxSession scorer) {
    this.initializer = initializer;
    this.updater = updater;
    this.scorer = scorer;
    initOut = states(initializer, initializer.outputNames());
    updIn = states(updater, updater.inputNames());
    updOut = states(updater, updater.outputNames());
    scoreIn = states(scorer, scorer.inputNames());
    if (initOut.isEmpty() || updOut.isEmpty() || scoreIn.isEmpty()) {
      throw new IllegalArgumentException("not step-by-step models: the initializer, updater or scorer names no state in its metadata");
    }
    if (!updater.inputNames().contains(TOKEN)) throw new IllegalArgumentException("the state updater has no '" + TOKEN + "' input");
    if (!scorer.outputNames().contains(SCORES)) throw new IllegalArgumentException("the scorer has no '" + SCORES + "' output");
    String role = scorer.metadata().getOrDefault("returnn_onnx.step_by_step", "");
    negated = role.contains("\"scores_are\": \"-log p\"");
  }

  /**
   * Opens {@code state-initializer.onnx}, {@code state-updater.onnx} and {@code scorer.onnx} in {@code dir}.
   *
   * @param dir the folder {@code convert --step-by-step} wrote
   * @param o session settings
   * @return the decoder
   */
  public static StepByStepDecoder open(Path dir, OnnxSession.Options o) {
    OnnxSession i = null, u = null, s = null;
    try {
      i = OnnxSession.open(dir.resolve("state-initializer.onnx"), o);
      u = OnnxSession.open(dir.resolve("state-updater.onnx"), o);
      s = OnnxSession.open(dir.resolve("scorer.onnx"), o);
      return new StepByStepDecoder(i, u, s);
    } catch (RuntimeException e) {
      for (OnnxSession x : new OnnxSession[] {i, u, s}) if (x != null) x.close();
      throw e;
    }
  }

  private static Map<String, String> states(OnnxSession s, List<String> names) {
    Map<String, String> md = s.metadata();
    Map<String, String> m = new LinkedHashMap<>();
    for (String n : names) if (md.containsKey(n)) m.put(n, md.get(n));
    return m;
  }

  /**
   * The states the updater reads.
   *
   * @return the state names
   */
  public List<String> updaterStates() {
    return List.copyOf(updIn.values());
  }

  /**
   * The states the scorer reads.
   *
   * @return the state names
   */
  public List<String> scorerStates() {
    return List.copyOf(scoreIn.values());
  }

  /**
   * The state initializer's inputs (the encoder's: features and their lengths).
   *
   * @return the input names
   */
  public List<String> encoderInputs() {
    return initializer.inputNames();
  }

  /**
   * Whether an encoder input is an integer one (sequence lengths), not features.
   *
   * @param name an encoder input
   * @return true for lengths
   */
  public boolean isLengthInput(String name) {
    ai.onnxruntime.NodeInfo info = initializer.inputInfo().get(name);
    return info != null && info.getInfo() instanceof ai.onnxruntime.TensorInfo t
        && t.type != ai.onnxruntime.OnnxJavaType.FLOAT && t.type != ai.onnxruntime.OnnxJavaType.DOUBLE;
  }

  /**
   * The initial states (state name → tensor) for the encoder inputs.
   *
   * @param encoderInputs encoder input name to tensor
   * @return state name to tensor
   */
  public Map<String, Tensor> initialStates(Map<String, Tensor> encoderInputs) {
    Map<String, Tensor> out = initializer.run(encoderInputs, new ArrayList<>(initOut.keySet()));
    Map<String, Tensor> st = new LinkedHashMap<>();
    initOut.forEach((name, state) -> st.put(state, out.get(name)));
    return st;
  }

  /**
   * Scores [B, V] of the next label: log p (also when the scorer gives -log p).
   *
   * @param states state name to tensor
   * @return the scores
   */
  public Tensor scores(Map<String, Tensor> states) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    scoreIn.forEach((name, state) -> feeds.put(name, require(states, state)));
    Tensor t = scorer.run(feeds, List.of(SCORES)).get(SCORES);
    if (!negated) return t;
    float[] f = t.toFloats();
    for (int i = 0; i < f.length; i++) f[i] = -f[i];
    return Tensor.ofFloats(t.shape(), f);
  }

  /**
   * The states after label {@code tokens[b]} for hypothesis b.
   *
   * @param states state name to tensor
   * @param tokens the label chosen per hypothesis
   * @return the new states
   */
  public Map<String, Tensor> update(Map<String, Tensor> states, int[] tokens) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    updIn.forEach((name, state) -> feeds.put(name, require(states, state)));
    feeds.put(TOKEN, Tensor.ofInts(new long[] {tokens.length}, tokens));
    Map<String, Tensor> out = updater.run(feeds, new ArrayList<>(updOut.keySet()));
    Map<String, Tensor> st = new LinkedHashMap<>(states);
    updOut.forEach((name, state) -> st.put(state, out.get(name)));
    return st;
  }

  private static Tensor require(Map<String, Tensor> states, String state) {
    Tensor t = states.get(state);
    if (t == null) throw new IllegalStateException("state '" + state + "' has no value");
    return t;
  }

  /**
   * Greedy decoding for {@code steps} labels (not stopped at end of sentence), as RETURNN's step-by-step driver does.
   *
   * @param encoderInputs encoder input name to tensor
   * @param steps labels to decode
   * @return labels and scores
   */
  public Greedy greedy(Map<String, Tensor> encoderInputs, int steps) {
    Map<String, Tensor> st = initialStates(encoderInputs);
    List<int[]> labels = new ArrayList<>();
    float[][][] scores = new float[steps][][];
    for (int step = 0; step < steps; step++) {
      Tensor sc = scores(st);
      int b = (int) sc.shape()[0], v = (int) sc.shape()[1];
      float[] f = sc.toFloats();
      int[] choice = new int[b];
      scores[step] = new float[b][];
      for (int i = 0; i < b; i++) {
        scores[step][i] = Arrays.copyOfRange(f, i * v, (i + 1) * v);
        int best = 0;
        for (int k = 1; k < v; k++) if (f[i * v + k] > f[i * v + best]) best = k;
        choice[i] = best;
      }
      labels.add(choice);
      if (step + 1 < steps) st = update(st, choice);
    }
    int b = labels.isEmpty() ? 0 : labels.get(0).length;
    int[][] out = new int[b][steps];
    for (int s = 0; s < steps; s++) for (int i = 0; i < b; i++) out[i][s] = labels.get(s)[i];
    return new Greedy(out, scores);
  }

  /**
   * RETURNN's beam search as its {@code choice} layer does it in the search graph, for a batch: per sequence the
   * {@code beam} best of (hypothesis score + log p) over all hypotheses and labels (TF's top_k: ties to the lower
   * index); an ended hypothesis (it chose {@code eos}) is only continued by {@code eos} with log p 0, and with length
   * normalization its score is scaled by (t+1)/t at step t, so that at the end score / steps = its score per label
   * (EOS counted). Runs until every hypothesis has ended or for {@code maxSteps} steps (RETURNN's max_seq_len).
   *
   * @param encoderInputs encoder input name to tensor
   * @param beam the beam size
   * @param eos the end-of-sentence label
   * @param maxSteps the most steps
   * @param lengthNormalization RETURNN's length normalization
   * @return per sequence and final beam entry (best first) the labels (EOS and 0-padding after it), the lengths
   *     without EOS and the scores (with the in-search factors; divide by {@code steps} for RETURNN's normalized
   *     scores)
   */
  public Beam returnnBeamSearch(Map<String, Tensor> encoderInputs, int beam, int eos, int maxSteps, boolean lengthNormalization) {
    return returnnBeamSearch(encoderInputs, beam, eos, maxSteps, lengthNormalization, null);
  }

  /**
   * {@link #returnnBeamSearch(Map, int, int, int, boolean)} where sequence b's hypotheses also count as ended from step
   * {@code endAt[b]} on (continued by label 0 at log p 0, as after EOS). A rec layer over an input sequence without an
   * "end" layer (a transducer) does this in RETURNN's search: its end flag is step >= length + 1 (rec.py
   * get_prev_end_flag without include_eos), so pass {@code endAt[b] = length + 1} and {@code eos} -1.
   */
  public Beam returnnBeamSearch(Map<String, Tensor> encoderInputs, int beam, int eos, int maxSteps, boolean lengthNormalization,
      int[] endAt) {
    Map<String, Tensor> st = initialStates(encoderInputs);
    int batch = (int) st.values().iterator().next().shape()[0];
    int beamIn = 1;
    float[][] score = new float[batch][1];
    boolean[][] ended = new boolean[batch][1];
    int[][] lengths = new int[batch][1];
    List<List<int[]>> hist = new ArrayList<>();
    for (int b = 0; b < batch; b++) hist.add(new ArrayList<>(List.of(new int[0])));
    int t = 0;
    for (; t < maxSteps; t++) {
      if (endAt != null) for (int b = 0; b < batch; b++) if (t >= endAt[b]) Arrays.fill(ended[b], true);
      boolean allEnded = true;
      for (boolean[] e : ended) for (boolean x : e) allEnded &= x;
      if (t > 0 && allEnded) break;
      float[] logp = scores(st).toFloats();
      int v = logp.length / (batch * beamIn);
      int k = Math.min(beam, beamIn * v);
      int[] srcRows = new int[batch * k];
      int[] labels = new int[batch * k];
      float[][] nScore = new float[batch][k];
      boolean[][] nEnded = new boolean[batch][k];
      int[][] nLengths = new int[batch][k];
      for (int b = 0; b < batch; b++) {
        float[] comb = new float[beamIn * v];
        for (int j = 0; j < beamIn; j++) {
          int row = b * beamIn + j;
          float base = score[b][j];
          if (lengthNormalization && ended[b][j]) base *= (float) (t + 1) / (float) t;
          for (int c = 0; c < v; c++) {
            float in = ended[b][j] ? (c == 0 ? 0f : -1.0e30f) : logp[row * v + c];
            comb[j * v + c] = in + base;
          }
        }
        Integer[] idx = new Integer[comb.length];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        Arrays.sort(idx, (x, y) -> comb[x] != comb[y] ? Float.compare(comb[y], comb[x]) : Integer.compare(x, y));
        List<int[]> nh = new ArrayList<>();
        for (int r = 0; r < k; r++) {
          int j = idx[r] / v, label = idx[r] % v;
          srcRows[b * k + r] = b * beamIn + j;
          labels[b * k + r] = label;
          nScore[b][r] = comb[idx[r]];
          nEnded[b][r] = ended[b][j] || label == eos;
          nLengths[b][r] = ended[b][j] || label == eos ? lengths[b][j] : lengths[b][j] + 1;
          int[] seq = Arrays.copyOf(hist.get(b).get(j), t + 1);
          seq[t] = label;
          nh.add(seq);
        }
        hist.set(b, nh);
      }
      Map<String, Tensor> gathered = new LinkedHashMap<>();
      for (Map.Entry<String, Tensor> e : st.entrySet()) gathered.put(e.getKey(), gatherRows(e.getValue(), srcRows));
      st = t + 1 < maxSteps ? update(gathered, labels) : gathered;
      beamIn = k;
      score = nScore;
      ended = nEnded;
      lengths = nLengths;
    }
    int[][][] out = new int[batch][beamIn][];
    for (int b = 0; b < batch; b++) for (int j = 0; j < beamIn; j++) out[b][j] = hist.get(b).get(j);
    return new Beam(out, lengths, score, t);
  }

  /** A RETURNN beam search's result: labels [B][beam][steps], lengths without EOS, scores, steps run. */
  public record Beam(int[][][] labels, int[][] lengths, float[][] scores, int steps) {
    /**
     * RETURNN's length-normalized scores (its choice layer's final {@code choice_scores}): the scores divided by the
     * longest hypothesis' length in the batch + 1 (EOS), which with the in-search factors is each hypothesis' score
     * per label.
     *
     * @return per sequence and beam entry
     */
    public float[][] normalizedScores() {
      int max = 0;
      for (int[] l : lengths) for (int x : l) max = Math.max(max, x);
      float[][] n = new float[scores.length][];
      for (int b = 0; b < n.length; b++) {
        n[b] = new float[scores[b].length];
        for (int j = 0; j < n[b].length; j++) n[b][j] = scores[b][j] / (float) (max + 1);
      }
      return n;
    }

    /**
     * RETURNN's decide layer: per sequence the beam entry with the best score; its labels up to its length.
     *
     * @return per sequence its labels
     */
    public int[][] best() {
      int[][] out = new int[labels.length][];
      for (int b = 0; b < out.length; b++) {
        int j = 0;
        for (int i = 1; i < scores[b].length; i++) if (scores[b][i] > scores[b][j]) j = i;
        out[b] = Arrays.copyOf(labels[b][j], lengths[b][j]);
      }
      return out;
    }
  }

  /**
   * Cuts the encoder states ({@code base_value_*}, time on axis 1) to the longest encoder length ({@code base_size_*})
   * among the rows, in place. RETURNN's graph masks the attention by that length, so rows of shorter sequences scored
   * without the longest one need this (one segment's hypotheses, or a whole padded batch, do not).
   *
   * @param states state name to tensor, changed in place
   */
  public static void cutEncoderTime(Map<String, Tensor> states) {
    int max = -1;
    for (Map.Entry<String, Tensor> e : states.entrySet()) {
      if (e.getKey().startsWith("base_size_")) for (long l : e.getValue().toLongs()) max = (int) Math.max(max, l);
    }
    if (max < 0) return;
    for (Map.Entry<String, Tensor> e : states.entrySet()) {
      Tensor t = e.getValue();
      if (!e.getKey().startsWith("base_value_") || t.rank() < 2 || t.shape()[1] <= max) continue;
      long[] shape = t.shape().clone();
      long rowBytes = shape[0] == 0 ? 0 : t.byteSize() / shape[0];
      long keepBytes = rowBytes / shape[1] * max;
      ByteBuffer src = t.data().duplicate();
      ByteBuffer dst = Tensor.alloc(keepBytes * shape[0]);
      for (int b = 0; b < shape[0]; b++) {
        ByteBuffer row = src.duplicate();
        row.position((int) (b * rowBytes)).limit((int) (b * rowBytes + keepBytes));
        dst.put(row);
      }
      dst.flip();
      shape[1] = max;
      e.setValue(Tensor.of(t.dtype(), shape, dst));
    }
  }

  /**
   * Rows {@code rows} of {@code t} along axis 0 (any dtype).
   *
   * @param t the tensor
   * @param rows the rows, in order
   * @return a new tensor
   */
  public static Tensor gatherRows(Tensor t, int[] rows) {
    long[] shape = t.shape().clone();
    if (shape.length == 0) throw new IllegalArgumentException("a state without a batch axis cannot be reordered");
    long rowBytes = shape[0] == 0 ? 0 : t.byteSize() / shape[0];
    ByteBuffer src = t.data().duplicate();
    ByteBuffer dst = Tensor.alloc(rowBytes * rows.length);
    for (int r : rows) {
      ByteBuffer row = src.duplicate();
      row.position((int) (r * rowBytes)).limit((int) ((r + 1) * rowBytes));
      dst.put(row);
    }
    dst.flip();
    shape[0] = rows.length;
    return Tensor.of(t.dtype(), shape, dst);
  }

  @Override
  public void close() {
    initializer.close();
    updater.close();
    scorer.close();
  }
}
