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

      Map<String, Tensor> st = dec.update(dec.initialStates(inputs), column(g.labels(), 0));
      float[] ref = dec.scores(st).toFloats();
      assertTrue(maxDiff(ref, wantScores, b * v, b * v) <= TOL, "step-1 scores from TF's labels differ from TF's");
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
      // the check can fail: each float state the models read, moved a little, moves the step-1 scores (a state the
      // scorer reads at step 1; else one the updater reads at step 0)
      Map<String, Tensor> st0 = dec.initialStates(inputs);
      int moved = 0;
      for (String key : st0.keySet()) {
        boolean scored = dec.scorerStates().contains(key);
        Map<String, Tensor> base = scored ? st : st0;
        Map.Entry<String, Tensor> e = Map.entry(key, base.get(key));
        if (e.getValue().dtype() != DType.FLOAT || e.getValue().size() == 0) continue;
        if (!scored && !dec.updaterStates().contains(key)) continue;
        Map<String, Tensor> p = new LinkedHashMap<>(base);
        float[] f = e.getValue().toFloats();
        for (int i = 0; i < f.length; i++) f[i] += 0.05f;
        p.put(e.getKey(), Tensor.ofFloats(e.getValue().shape(), f));
        Map<String, Tensor> p1 = scored ? p : dec.update(p, column(g.labels(), 0));
        double d = maxDiff(dec.scores(p1).toFloats(), ref, 0, ref.length);
        System.out.printf("  state %s + 0.05 moves the step-1 scores by %.3g%n", e.getKey(), d);
        // (a delayed state, e.g. the previous label's embedding, is overwritten from the token before the stateful
        // form's updater reads it: it may not move them)
        if (scored) assertTrue(d > 100 * TOL, "perturbing state " + e.getKey() + " moves the scores only by " + d);
        if (d > 100 * TOL) moved++;
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
    Map<String, Tensor> out = m.readOutputs();
    Tensor tfBeams = out.get("output/rec/output_batch_major");
    Tensor tfScores = out.get("output/rec/output/truediv");
    int beam = (int) tfScores.shape()[1];
    int maxSteps = (int) tfBeams.shape()[1];
    try (StepByStepDecoder dec = decoder(models)) {
      StepByStepDecoder.Beam r = dec.returnnBeamSearch(m.readInputs(), beam, 0, maxSteps, true);
      int b = r.labels().length;
      int[] got = new int[b * beam * maxSteps];
      float[] gotScores = new float[b * beam];
      float[][] norm = r.normalizedScores();
      for (int i = 0; i < b; i++) {
        for (int j = 0; j < beam; j++) {
          int[] l = r.labels()[i][j];
          System.arraycopy(l, 0, got, (i * beam + j) * maxSteps, l.length);  // TF pads with 0 (= EOS) after the end
          gotScores[i * beam + j] = norm[i][j];
        }
      }
      double err = maxDiff(gotScores, tfScores.toFloats(), 0, gotScores.length);
      System.out.printf("%s beam %d: %d steps, every beam's labels %s TF's, normalized scores max err %.3g%n", m.name(), beam,
          r.steps(), java.util.Arrays.equals(got, tfBeams.toInts()) ? "=" : "!=", err);
      assertArrayEquals(tfBeams.toInts(), got, "the beams' labels differ from TF's search graph");
      assertTrue(err <= TOL, "normalized beam scores differ from TF's by " + err);
      // RETURNN's decide layer: the best beam entry, its length
      int[][] best = r.best();
      int[] tfDecision = out.get("decision/output_batch_major").toInts();
      int[] tfLengths = out.get("decision/GatherNd").toInts();
      int width = (int) out.get("decision/output_batch_major").shape()[1];
      for (int i = 0; i < b; i++) {
        assertEquals(tfLengths[i], best[i].length, "decided length of sequence " + i);
        assertArrayEquals(java.util.Arrays.copyOfRange(tfDecision, i * width, i * width + best[i].length), best[i],
            "decided labels of sequence " + i);
      }
    }
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
