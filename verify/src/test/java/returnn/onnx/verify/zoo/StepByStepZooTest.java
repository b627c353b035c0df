package returnn.onnx.verify.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import org.junit.jupiter.api.TestFactory;
import returnn.onnx.ConvertOptions;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.runtime.Npy;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.runtime.StepByStepDecoder;
import returnn.onnx.stepbystep.StepByStep;

/**
 * The zoo's RETURNN step-by-step graphs ({@code --rec_step_by_step}) as RASR's stateful-onnx triple: a greedy decode in
 * Java over the three models must give TensorFlow's recorded labels exactly and its per-step scores to 1e-5 (TF
 * drove the IO/ variables as RETURNN's protocol says; see returnn-zoo/zoo/reference.py, step_by_step_reference).
 */
class StepByStepZooTest {
  static final double TOL = 1e-5;

  @TestFactory
  Stream<DynamicTest> stepByStepModelsReproduceTf() {
    Zoo zoo = Zoo.load();
    List<DynamicTest> tests = new ArrayList<>();
    for (Zoo.Model m : zoo.models()) {
      JsonNode sbs = m.entry().get("step_by_step");
      if (sbs == null) continue;
      for (StepByStep.Form form : StepByStep.Form.values()) {
        tests.add(DynamicTest.dynamicTest(m.name() + " " + form, () -> check(zoo, m, sbs, form)));
      }
    }
    assertFalse(tests.isEmpty(), "no zoo model has a step-by-step graph");
    return tests.stream();
  }

  static StepByStepDecoder decoder(StepByStep.Models models) {
    return new StepByStepDecoder(OnnxSession.open(models.initializer().toBytes(), OnnxSession.Options.singleThread()),
        OnnxSession.open(models.updater().toBytes(), OnnxSession.Options.singleThread()),
        OnnxSession.open(models.scorer().toBytes(), OnnxSession.Options.singleThread()));
  }

  private static void check(Zoo zoo, Zoo.Model m, JsonNode sbs, StepByStep.Form form) {
    Path graph = zoo.root().resolve(sbs.get("graph").asText());
    Path info = zoo.root().resolve(sbs.get("info").asText());
    int steps = sbs.get("steps").asInt();
    Tensor tfLabels = Npy.read(zoo.root().resolve(sbs.get("labels").get("file").asText()));
    Tensor tfScores = Npy.read(zoo.root().resolve(sbs.get("scores").get("file").asText()));
    StepByStep.Models models = StepByStep.convert(ConvertOptions.of(graph, m.checkpoint(), List.of()), info, false, form);

    // the RASR hidden-state convention: ONNX name -> state name in the metadata, for every carried state
    for (String k : models.states()) {
      assertEquals(k, models.initializer().metadata().get(k), "initializer output " + k);
      assertEquals(k, models.updater().metadata().get(k + StepByStep.UPDATED), "updater output " + k);
    }

    // the encoder runs in the initializer: its attention and layer norms fuse there as in the search graph. The
    // manifest counts the search graph's: the encoder's and the decoder cell's once (in its Loop body; a Transformer
    // decoder's layer norms). The stateful form's initializer runs the encoder and the cell once (step 0), its updater
    // the cell; the split form's initializer the encoder only, its scorer the cell (its updater only what the states need)
    for (String op : List.of("MultiHeadAttention", "LayerNormalization")) {
      Integer want = m.fuse().get(op);
      if (want == null) continue;
      int n = models.initializer().graph().count(op) + models.initializer().graph().count("com.microsoft." + op);
      var step = form == StepByStep.Form.STATEFUL ? models.updater() : models.scorer();
      int cell = step.graph().count(op) + step.graph().count("com.microsoft." + op);
      if (form == StepByStep.Form.STATEFUL_SPLIT) want -= cell;
      assertEquals((int) want, n, m.name() + ": " + op + " ops in the state initializer (" + cell + " in the decoder step)\n"
          + models.initializer().report().format(true));
    }

    Map<String, Tensor> inputs = m.readInputs();
    try (StepByStepDecoder dec = decoder(models)) {
      StepByStepDecoder.Greedy g = dec.greedy(inputs, steps);
      int b = (int) tfLabels.shape()[0];
      int v = (int) tfScores.shape()[2];
      int[] want = tfLabels.toInts();
      float[] wantScores = tfScores.toFloats();
      double maxErr = 0;
      for (int s = 0; s < steps; s++) {
        for (int i = 0; i < b; i++) {
          for (int k = 0; k < v; k++) {
            maxErr = Math.max(maxErr, Math.abs(g.scores()[s][i][k] - wantScores[(s * b + i) * v + k]));
          }
        }
      }
      int[] got = new int[b * steps];
      for (int i = 0; i < b; i++) System.arraycopy(g.labels()[i], 0, got, i * steps, steps);
      System.out.printf("%s step-by-step (" + form + "): %d steps, labels %s, max |scores - TF| %.3g%n", m.name(), steps,
          java.util.Arrays.deepToString(g.labels()), maxErr);
      assertArrayEquals(want, got, "greedy labels differ from TF's");
      assertTrue(maxErr <= TOL, "per-step scores differ from TF's by " + maxErr);

      // the encoder inside the initializer: its encoder-value state is TF's encoder output (the search graph's
      // encoder/output_batch_major [B, T, d]; the state is the attention's split_dims of it, [B, T, heads, d/heads])
      Tensor enc = m.readOutputs().get("encoder/output_batch_major");
      if (sbs.has("encoder_output_state") && sbs.get("encoder_output_state").isNull()) {
        // the registry says no state holds it (e.g. only the attention's key/value projections of it)
        System.out.printf("  encoder output: no initializer state holds it (%s)%n", sbs.path("note").asText());
      } else if (enc != null) {
        String found = null;
        double encErr = Double.NaN;
        for (Map.Entry<String, Tensor> e : dec.initialStates(inputs).entrySet()) {
          if (!e.getKey().startsWith("base_value_") || e.getValue().size() != enc.size()
              || e.getValue().shape()[1] != enc.shape()[1]) continue;
          found = e.getKey();
          encErr = maxDiff(e.getValue().toFloats(), enc.toFloats(), 0, (int) enc.size());
        }
        System.out.printf("  encoder output (initializer state %s) vs TF's encoder/output_batch_major: max err %.3g%n", found, encErr);
        assertTrue(found != null, "no initializer state holds the encoder output");
        assertTrue(encErr <= TOL, "the initializer's encoder output differs from TF's by " + encErr);
      }

      Map<String, Tensor> st = dec.update(dec.initialStates(inputs), column(g.labels(), 0));
      float[] ref = dec.scores(st).toFloats();
      assertTrue(maxDiff(ref, wantScores, b * v, b * v) <= TOL, "step-1 scores from TF's labels differ from TF's");
      boolean frameSync = models.states().contains(StepByStep.STEP);
      if (frameSync) {
        // hypotheses are independent rows: any subset and order of them scores the same, as long as the encoder
        // states' time axis is the subset's longest encoder length (RETURNN's graph masks the attention by
        // max(base_size), as TF does; one segment's hypotheses, as RASR feeds them, always have this)
        for (int[] rows : new int[][] {{2, 0}, {1}, {0, 0, 1, 2}}) {
          Map<String, Tensor> sub = new LinkedHashMap<>();
          st.forEach((k, t) -> sub.put(k, StepByStepDecoder.gatherRows(t, rows)));
          // a frame-synchronous (transducer) step reads encoder frame i, which may lie past a subset's longest length
          if (!models.states().contains(StepByStep.STEP)) StepByStepDecoder.cutEncoderTime(sub);
          float[] subScores = dec.scores(sub).toFloats();
          for (int r = 0; r < rows.length; r++) {
            double d = maxDiff(java.util.Arrays.copyOfRange(subScores, r * v, (r + 1) * v), ref, rows[r] * v, v);
            assertTrue(d <= TOL, "row " + rows[r] + " scored among rows " + java.util.Arrays.toString(rows) + " differs by " + d);
          }
        }
        if (models.states().contains(StepByStep.STEP)) {
          // a transducer's rows are independent also at different encoder frames: row 0 one step further (frame 2),
          // rows 1.. at frame 1, scored in one call, each as scored alone
          Map<String, Tensor> st2 = dec.update(st, column(g.labels(), 1));
          float[] ref2 = dec.scores(st2).toFloats();
          Map<String, Tensor> mixed = new LinkedHashMap<>();
          int[] rest = new int[b - 1];
          for (int i = 1; i < b; i++) rest[i - 1] = i;
          for (String k : st.keySet()) {
            mixed.put(k, concatRows(StepByStepDecoder.gatherRows(st2.get(k), new int[] {0}), StepByStepDecoder.gatherRows(st.get(k), rest)));
          }
          assertEquals(2, mixed.get(StepByStep.STEP).toInts()[0], "row 0's step index");
          float[] mixedScores = dec.scores(mixed).toFloats();
          double d0 = maxDiff(java.util.Arrays.copyOfRange(mixedScores, 0, v), ref2, 0, v);
          double dRest = maxDiff(java.util.Arrays.copyOfRange(mixedScores, v, b * v), ref, v, (b - 1) * v);
          // the frames differ: had every row read row 0's frame, rows 1.. would move by this much
          double apart = maxDiff(java.util.Arrays.copyOfRange(ref2, v, b * v), ref, v, (b - 1) * v);
          System.out.printf("  rows at frames 2 and 1 in one call: max diff %.3g / %.3g (rows' scores at frames 2 vs 1 differ by %.3g)%n", d0, dRest, apart);
          assertTrue(d0 <= TOL && dRest <= TOL, "rows at different frames scored together differ: " + d0 + ", " + dRest);
          assertTrue(apart > 100 * TOL, "frames 1 and 2 score alike: the check could not fail");
        }
      } else {
        // hypotheses are independent rows: any subset and order of them scores the same, with the encoder states'
        // time axis as it is (every row masked by its own base_size: a row of a 1-frame encoder among longer ones, or
        // alone on the padded axis, where RETURNN's max(base_size) mask would broadcast over the padding), and cut to
        // the rows' longest encoder length (StepByStepDecoder.cutEncoderTime)
        for (int[] rows : new int[][] {{2, 0}, {1}, {1, 2}, {0, 0, 1, 2}}) {
          for (boolean cut : new boolean[] {false, true}) {
            // step 0 → 1 for these rows alone: updater (and scorer) on their states
            float[] subScores = dec.scores(dec.update(subStates(dec, inputs, rows, cut), column(rowsOf(g.labels(), rows), 0))).toFloats();
            for (int r = 0; r < rows.length; r++) {
              double d = maxDiff(java.util.Arrays.copyOfRange(subScores, r * v, (r + 1) * v), ref, rows[r] * v, v);
              assertTrue(d <= TOL, "row " + rows[r] + " scored among rows " + java.util.Arrays.toString(rows) + (cut ? " (cut)" : "")
                  + " differs by " + d);
            }
          }
        }
      }
      int moved = 0;
      if (frameSync) {
        // a transducer's masked prediction network keeps its last output (lm_masked/extra/_output) only for a blank
        // step: it counts after label 0 (blank; for the other models EOS), not after TF's first labels
        Map<String, Tensor> afterZero = dec.update(dec.initialStates(inputs), new int[b]);
        float[] refZero = dec.scores(afterZero).toFloats();
        // the once-per-label form: the scorer reads the scores state only; a perturbed state then goes through the
        // next updater call (TF's second labels, or label 0) before it is scored
        if (form == StepByStep.Form.STATEFUL) {
          assertEquals(1, dec.scorerStates().size(), "the stateful form's scorer reads the scores state only: " + dec.scorerStates());
        }
        for (Map.Entry<String, Tensor> e : st.entrySet()) {
          if (e.getValue().dtype() != DType.FLOAT || e.getValue().size() == 0) continue;
          boolean scored = dec.scorerStates().contains(e.getKey());
          double d = 0;
          String after = "";
          for (int w = 0; w < 2; w++) {
            Map<String, Tensor> base = w == 0 ? st : afterZero;
            int[] next = w == 0 ? column(g.labels(), 1) : new int[b];
            float[] baseRef = scored ? (w == 0 ? ref : refZero) : dec.scores(dec.update(base, next)).toFloats();
            Map<String, Tensor> p = new LinkedHashMap<>(base);
            float[] f = base.get(e.getKey()).toFloats();
            for (int i = 0; i < f.length; i++) f[i] += 0.05f;
            p.put(e.getKey(), Tensor.ofFloats(base.get(e.getKey()).shape(), f));
            double dw = maxDiff(dec.scores(scored ? p : dec.update(p, next)).toFloats(), baseRef, 0, ref.length);
            if (dw > d) {
              d = dw;
              after = w == 0 ? "TF's first labels" : "label 0";
            }
          }
          System.out.printf("  state %s + 0.05 moves the step-1 scores by %.3g (after %s)%n", e.getKey(), d, after);
          assertTrue(d > 100 * TOL, "perturbing state " + e.getKey() + " moves the scores only by " + d);
          moved++;
        }
      } else {
        // the check can fail: each float state the models read, moved a little, moves the step-1 scores (a state the
        // scorer reads at step 1; else one the updater reads at step 0)
        Map<String, Tensor> st0 = dec.initialStates(inputs);
        for (String key : st0.keySet()) {
          boolean scored = dec.scorerStates().contains(key);
          Map<String, Tensor> base = scored ? st : st0;
          Map.Entry<String, Tensor> e = Map.entry(key, base.get(key));
          if (e.getValue().dtype() != DType.FLOAT || e.getValue().size() == 0) continue;
          if (!scored && !dec.updaterStates().contains(key)) continue;
          Map<String, Tensor> p = new LinkedHashMap<>(base);
          float[] f = e.getValue().toFloats();
          // not one constant: attention keys moved alike move every energy alike, which the softmax cancels
          for (int i = 0; i < f.length; i++) f[i] += 0.05f * (1 + i % 3);
          p.put(e.getKey(), Tensor.ofFloats(e.getValue().shape(), f));
          Map<String, Tensor> p1 = scored ? p : dec.update(p, column(g.labels(), 0));
          double d = maxDiff(dec.scores(p1).toFloats(), ref, 0, ref.length);
          System.out.printf("  state %s + 0.05..0.15 moves the step-1 scores by %.3g%n", e.getKey(), d);
          // (a delayed state, e.g. the previous label's embedding, is overwritten from the token before the stateful
          // form's updater reads it: it may not move them)
          if (scored) assertTrue(d > 100 * TOL, "perturbing state " + e.getKey() + " moves the scores only by " + d);
          if (d > 100 * TOL) moved++;
        }
      }
      assertTrue(moved >= 3, "too few float states to perturb: " + moved);
    }
  }

  @TestFactory
  Stream<DynamicTest> beamSearchReproducesTfSearchGraph() {
    Zoo zoo = Zoo.load();
    List<DynamicTest> tests = new ArrayList<>();
    for (Zoo.Model m : zoo.models()) {
      JsonNode sbs = m.entry().get("step_by_step");
      if (sbs == null) continue;
      tests.add(DynamicTest.dynamicTest(m.name(), () -> checkBeam(zoo, m, sbs)));
    }
    return tests.stream();
  }

  private static void checkBeam(Zoo zoo, Zoo.Model m, JsonNode sbs) {
    Path graph = zoo.root().resolve(sbs.get("graph").asText());
    Path info = zoo.root().resolve(sbs.get("info").asText());
    StepByStep.Models models = StepByStep.convert(ConvertOptions.of(graph, m.checkpoint(), List.of()), info);
    if (models.states().contains(StepByStep.STEP)) {
      checkFrameSynchronousBeam(zoo, m, models);
      return;
    }
    checkBeam(m, models, m.readOutputs(), "search graph");
    // TF's search with other beam sizes (the same network compiled with another beam_size: "extra_references")
    for (var e : (Iterable<Map.Entry<String, JsonNode>>) m.entry().path("extra_references")::fields) {
      Map<String, Tensor> out = new LinkedHashMap<>();
      e.getValue().path("outputs").fields().forEachRemaining(
          o -> out.put(o.getKey(), Npy.read(zoo.root().resolve(o.getValue().get("file").asText()))));
      checkBeam(m, models, out, e.getKey() + " search graph");
    }
  }

  private static void checkBeam(Zoo.Model m, StepByStep.Models models, Map<String, Tensor> out, String what) {
    Tensor tfBeams = out.get("output/rec/output_batch_major");
    Tensor tfScores = out.get("output/rec/output/truediv");
    int beam = (int) tfScores.shape()[1];
    // TF's output is as wide as the longest hypothesis without its EOS (it may end before max_seq_len)
    int width = (int) tfBeams.shape()[1];
    try (StepByStepDecoder dec = decoder(models)) {
      // the search graph's max_seq_len is max_len_from('base:encoder'): the longest encoder length (base_size_*)
      int maxSteps = 0;
      for (Map.Entry<String, Tensor> e : dec.initialStates(m.readInputs()).entrySet()) {
        if (e.getKey().startsWith("base_size_")) for (long l : e.getValue().toLongs()) maxSteps = (int) Math.max(maxSteps, l);
      }
      assertTrue(maxSteps >= width, "encoder length " + maxSteps + " < TF's search output width " + width);
      StepByStepDecoder.Beam r = dec.returnnBeamSearch(m.readInputs(), beam, 0, maxSteps, true);
      int b = r.labels().length;
      int[] got = new int[b * beam * width];
      float[] gotScores = new float[b * beam];
      float[][] norm = r.normalizedScores();
      for (int i = 0; i < b; i++) {
        for (int j = 0; j < beam; j++) {
          int[] l = r.labels()[i][j];
          // TF pads with 0 (= EOS) after the end; past TF's width only EOS may follow
          System.arraycopy(l, 0, got, (i * beam + j) * width, Math.min(width, l.length));
          for (int k = width; k < l.length; k++) assertEquals(0, l[k], "beam " + j + " of sequence " + i + " goes on past TF's end");
          gotScores[i * beam + j] = norm[i][j];
        }
      }
      double err = maxDiff(gotScores, tfScores.toFloats(), 0, gotScores.length);
      System.out.printf("%s beam %d vs TF's %s: %d steps, every beam's labels %s TF's, normalized scores max err %.3g%n",
          m.name(), beam, what, r.steps(), java.util.Arrays.equals(got, tfBeams.toInts()) ? "=" : "!=", err);
      assertArrayEquals(tfBeams.toInts(), got, "the beams' labels differ from TF's search graph");
      assertTrue(err <= TOL, "normalized beam scores differ from TF's by " + err);
      // RETURNN's decide layer: the best beam entry, its length
      int[][] best = r.best();
      int[] tfDecision = out.get("decision/output_batch_major").toInts();
      int[] tfLengths = out.get("decision/GatherNd").toInts();
      width = (int) out.get("decision/output_batch_major").shape()[1];
      for (int i = 0; i < b; i++) {
        assertEquals(tfLengths[i], best[i].length, "decided length of sequence " + i);
        assertArrayEquals(java.util.Arrays.copyOfRange(tfDecision, i * width, i * width + best[i].length), best[i],
            "decided labels of sequence " + i);
      }
    }
  }

  /**
   * A frame-synchronous (RNN-T / RNA) decoder: one label (blank 0 included) per encoder frame, no EOS, RETURNN's
   * search runs for the longest encoder length. What the Java decoder reproduces of TF's search graphs:
   * <ul>
   *   <li>beam 1 (the model's {@code NAME-beam1} twin in the zoo, same checkpoint): the greedy decode over the triple,
   *       cut at each sequence's own length with the blanks removed, is TF's {@code decision} (labels and lengths)
   *       for every sequence;</li>
   *   <li>beam 4: {@link StepByStepDecoder#returnnBeamSearch} with no end label (eos -1), the longest length as the
   *       step count and RETURNN's end rule for a rec layer over an input without "end" layer (a sequence's hypotheses
   *       end at step length + 1: one padded frame is still searched) gives every beam entry's frame labels, TF's
   *       normalized scores and TF's decision for every sequence.</li>
   * </ul>
   */
  private static void checkFrameSynchronousBeam(Zoo zoo, Zoo.Model m, StepByStep.Models models) {
    Map<String, Tensor> out = m.readOutputs();
    Tensor tfBeams = out.get("output/rec/output_batch_major");
    Tensor tfScores = out.get("output/rec/output/truediv");
    int beam = (int) tfScores.shape()[1];
    int maxSteps = (int) tfBeams.shape()[1];
    int[] lens = m.lengths();
    int blank = 0;
    Zoo.Model beam1 = Zoo.load().models().stream().filter(x -> x.name().equals(m.name() + "-beam1")).findFirst().orElse(null);
    try (StepByStepDecoder dec = decoder(models)) {
      Map<String, Tensor> inputs = m.readInputs();
      int shorter = 0;
      if (beam1 != null) {
        Map<String, Tensor> o1 = beam1.readOutputs();
        int[] dec1 = o1.get("decision/output_batch_major").toInts();
        int[] len1 = o1.get("decision/GatherNd").toInts();
        int width = (int) o1.get("decision/output_batch_major").shape()[1];
        StepByStepDecoder.Greedy g = dec.greedy(inputs, maxSteps);
        for (int i = 0; i < lens.length; i++) {
          int[] emitted = java.util.Arrays.stream(java.util.Arrays.copyOf(g.labels()[i], lens[i])).filter(x -> x != blank).toArray();
          assertEquals(len1[i], emitted.length, m.name() + " greedy: emitted length of sequence " + i + " vs TF's beam-1 search");
          assertArrayEquals(java.util.Arrays.copyOfRange(dec1, i * width, i * width + emitted.length), emitted,
              m.name() + " greedy: emitted labels of sequence " + i + " vs TF's beam-1 search");
        }
        System.out.printf("%s greedy over the triple = TF's beam-1 search (decision, lengths %s)%n", m.name(),
            java.util.Arrays.toString(len1));
      }
      int[] endAt = new int[lens.length];
      for (int i = 0; i < lens.length; i++) endAt[i] = lens[i] + 1;
      StepByStepDecoder.Beam r = dec.returnnBeamSearch(inputs, beam, -1, maxSteps, true, endAt);
      float[][] norm = r.normalizedScores();
      int[] tfL = tfBeams.toInts();
      float[] tfS = tfScores.toFloats();
      int[] tfDecision = out.get("decision/output_batch_major").toInts();
      int[] tfLengths = out.get("decision/GatherNd").toInts();
      int width = (int) out.get("decision/output_batch_major").shape()[1];
      for (int i = 0; i < lens.length; i++) {
        boolean same = true;
        double err = 0;
        for (int j = 0; j < beam; j++) {
          int[] l = r.labels()[i][j];
          same &= java.util.Arrays.equals(l, java.util.Arrays.copyOfRange(tfL, (i * beam + j) * maxSteps, (i * beam + j + 1) * maxSteps));
          err = Math.max(err, Math.abs(norm[i][j] - tfS[i * beam + j]));
        }
        System.out.printf("%s beam %d, sequence %d (length %d of %d): every beam's frame labels %s TF's, normalized scores max err %.3g%n",
            m.name(), beam, i, lens[i], maxSteps, same ? "=" : "!=", err);
        if (lens[i] < maxSteps) shorter++;
        assertTrue(same, m.name() + ": beams of sequence " + i + " differ from TF's search graph");
        assertTrue(err <= TOL, m.name() + ": normalized scores of sequence " + i + " differ from TF's by " + err);
        // RETURNN's decide layer: the best normalized score; output_wo_b0 keeps the sequence's own frames' non-blanks
        int top = 0;
        for (int j = 1; j < beam; j++) if (norm[i][j] > norm[i][top]) top = j;
        int[] best = java.util.Arrays.stream(java.util.Arrays.copyOf(r.labels()[i][top], lens[i])).filter(x -> x != blank).toArray();
        assertEquals(tfLengths[i], best.length, "decided length of sequence " + i);
        assertArrayEquals(java.util.Arrays.copyOfRange(tfDecision, i * width, i * width + best.length), best,
            "decided labels of sequence " + i);
      }
      assertTrue(shorter > 0, m.name() + ": no sequence shorter than the batch (the end-at-length rule untested)");
    }
  }

  /** a's rows, then b's (axis 0; same dtype and row shape). */
  static Tensor concatRows(Tensor a, Tensor b) {
    long[] shape = a.shape().clone();
    shape[0] += b.shape()[0];
    java.nio.ByteBuffer buf = Tensor.alloc(a.byteSize() + b.byteSize());
    buf.put(a.data().duplicate()).put(b.data().duplicate()).flip();
    return Tensor.of(a.dtype(), shape, buf);
  }

  /** The initial states of {@code rows}, the encoder time axis cut to their longest length or not. */
  static Map<String, Tensor> subStates(StepByStepDecoder dec, Map<String, Tensor> inputs, int[] rows, boolean cut) {
    Map<String, Tensor> sub = new LinkedHashMap<>();
    dec.initialStates(inputs).forEach((k, t) -> sub.put(k, StepByStepDecoder.gatherRows(t, rows)));
    if (cut) StepByStepDecoder.cutEncoderTime(sub);
    return sub;
  }

  static int[][] rowsOf(int[][] labels, int[] rows) {
    int[][] out = new int[rows.length][];
    for (int i = 0; i < rows.length; i++) out[i] = labels[rows[i]];
    return out;
  }

  static int[] column(int[][] labels, int s) {
    int[] c = new int[labels.length];
    for (int i = 0; i < c.length; i++) c[i] = labels[i][s];
    return c;
  }

  static double maxDiff(float[] a, float[] b, int bOffset, int n) {
    double d = 0;
    for (int i = 0; i < n; i++) d = Math.max(d, Math.abs(a[i] - b[bOffset + i]));
    return d;
  }
}
