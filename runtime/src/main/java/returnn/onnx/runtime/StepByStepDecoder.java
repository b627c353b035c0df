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
  public static final String TOKEN = "token";
  public static final String SCORES = "scores";

  private final OnnxSession initializer;
  private final OnnxSession updater;
  private final OnnxSession scorer;
  /** ONNX output name → state, per model. */
  private final Map<String, String> initOut;
  private final Map<String, String> updIn;
  private final Map<String, String> updOut;
  private final Map<String, String> scoreIn;

  /** Greedy result: labels [B][steps], scores [steps][B][V]. */
  public record Greedy(int[][] labels, float[][][] scores) {}

  /** One finished or running hypothesis of a beam search. */
  public record Hypothesis(int[] labels, double score) {}

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
  }

  /** Opens {@code state-initializer.onnx}, {@code state-updater.onnx} and {@code scorer.onnx} in {@code dir}. */
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

  /** The initial states (state name → tensor) for the encoder inputs. */
  public Map<String, Tensor> initialStates(Map<String, Tensor> encoderInputs) {
    Map<String, Tensor> out = initializer.run(encoderInputs, new ArrayList<>(initOut.keySet()));
    Map<String, Tensor> st = new LinkedHashMap<>();
    initOut.forEach((name, state) -> st.put(state, out.get(name)));
    return st;
  }

  /** Scores [B, V] of the next label. */
  public Tensor scores(Map<String, Tensor> states) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    scoreIn.forEach((name, state) -> feeds.put(name, require(states, state)));
    return scorer.run(feeds, List.of(SCORES)).get(SCORES);
  }

  /** The states after label {@code tokens[b]} for hypothesis b. */
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

  /** Greedy decoding for {@code steps} labels (not stopped at end of sentence), as RETURNN's step-by-step driver does. */
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
   * Beam search for one sequence (the encoder inputs with batch 1): keeps the {@code beam} best hypotheses by summed
   * log-probability; a hypothesis ends with label {@code eos} (its score includes it); stops when {@code beam}
   * hypotheses have ended or after {@code maxSteps} labels. Returns the ended hypotheses (or the running ones if none
   * ended), best first.
   */
  public List<Hypothesis> beamSearch(Map<String, Tensor> encoderInputs, int beam, int eos, int maxSteps) {
    Map<String, Tensor> st = initialStates(encoderInputs);
    List<int[]> hyps = new ArrayList<>(List.of(new int[0]));
    double[] hypScores = {0};
    List<Hypothesis> ended = new ArrayList<>();
    for (int step = 0; step < maxSteps && !hyps.isEmpty(); step++) {
      Tensor sc = scores(st);
      int v = (int) sc.shape()[1];
      float[] f = sc.toFloats();
      int n = hyps.size();
      Integer[] idx = new Integer[n * v];
      for (int i = 0; i < idx.length; i++) idx[i] = i;
      final double[] hs = hypScores;
      Arrays.sort(idx, (a, c) -> Double.compare(hs[c / v] + f[c], hs[a / v] + f[a]));
      List<Integer> keepFrom = new ArrayList<>();
      List<Integer> keepLabel = new ArrayList<>();
      List<Double> keepScore = new ArrayList<>();
      for (int r = 0; r < idx.length && keepFrom.size() < beam; r++) {
        int from = idx[r] / v, label = idx[r] % v;
        double s = hs[from] + f[idx[r]];
        int[] seq = Arrays.copyOf(hyps.get(from), hyps.get(from).length + 1);
        seq[seq.length - 1] = label;
        if (label == eos) {
          ended.add(new Hypothesis(seq, s));
          continue;
        }
        keepFrom.add(from);
        keepLabel.add(label);
        keepScore.add(s);
      }
      ended.sort((a, c) -> Double.compare(c.score(), a.score()));
      // stop when the best running hypothesis cannot beat the beam-th ended one (scores only decrease)
      if (ended.size() >= beam && (keepScore.isEmpty() || keepScore.get(0) <= ended.get(beam - 1).score())) break;
      if (keepFrom.isEmpty()) break;
      int[] rows = keepFrom.stream().mapToInt(Integer::intValue).toArray();
      int[] tokens = keepLabel.stream().mapToInt(Integer::intValue).toArray();
      Map<String, Tensor> gathered = new LinkedHashMap<>();
      st.forEach((k, t) -> gathered.put(k, gatherRows(t, rows)));
      st = update(gathered, tokens);
      List<int[]> next = new ArrayList<>();
      for (int r = 0; r < rows.length; r++) {
        int[] seq = Arrays.copyOf(hyps.get(rows[r]), hyps.get(rows[r]).length + 1);
        seq[seq.length - 1] = tokens[r];
        next.add(seq);
      }
      hyps = next;
      hypScores = keepScore.stream().mapToDouble(Double::doubleValue).toArray();
    }
    if (ended.isEmpty()) {
      for (int i = 0; i < hyps.size(); i++) ended.add(new Hypothesis(hyps.get(i), hypScores[i]));
    }
    ended.sort((a, c) -> Double.compare(c.score(), a.score()));
    return ended.size() > beam ? new ArrayList<>(ended.subList(0, beam)) : ended;
  }

  /** Rows {@code rows} of {@code t} along axis 0 (any dtype). */
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
