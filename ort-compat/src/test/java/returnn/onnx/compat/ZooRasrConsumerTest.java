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
import returnn.onnx.stepbystep.StepByStep;
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
      if (m.has("step_by_step")) {
        for (StepByStep.Form form : StepByStep.Form.values()) {
          for (boolean negate : new boolean[] {true, false}) {
            tests.add(DynamicTest.dynamicTest(name + " stateful-onnx " + form + (negate ? " --negate-scores" : ""),
                () -> statefulOnnx(root, m, form, negate)));
          }
        }
      }
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

  /**
   * The step-by-step models as RASR's stateful-onnx label scorer drives them ({@link RasrStatefulOnnxDriver}), with the
   * {@code scale} the generated RASR config sets: per segment (batch 1) the initializer on its frames, then per step a
   * batch of three hypotheses extending the same parent (TF's greedy label between two others, so the batch is a
   * real mix) and, from step 2 on, a fourth one label deep (hypotheses of different lengths in one call), updater
   * and scorer on the batch. TF's hypothesis must get TF's per-step scores as costs (-log p, the
   * search's sign: TF's label has the smallest) to 1e-5, the others the scores they get alone.
   */
  static final Map<String, float[][][]> TF_PER_SEGMENT = new java.util.concurrent.ConcurrentHashMap<>();

  void statefulOnnx(Path root, JsonNode m, StepByStep.Form form, boolean negate) throws Exception {
    JsonNode sbs = m.get("step_by_step");
    Path graph = root.resolve(sbs.get("graph").asText()), info = root.resolve(sbs.get("info").asText());
    StepByStep.Models models = StepByStep.convert(ConvertOptions.of(graph, root.resolve(m.get("checkpoint").asText()), List.of()),
        info, negate, form);
    String cfg = StepByStep.rasrConfig(models, negate);
    java.util.regex.Matcher sm = java.util.regex.Pattern.compile("(?m)^scale = (\\S+)$").matcher(cfg);
    assertTrue(sm.find(), "the RASR config sets the scale:\n" + cfg);
    float scale = Float.parseFloat(sm.group(1));
    assertTrue(cfg.contains("type = stateful-onnx"), cfg);
    if (models.states().contains(StepByStep.STEP)) {
      transducer(root, m, form, models, cfg, scale, negate);
      return;
    }
    assertFalse(cfg.contains("updates-history"), "a label-synchronous model leaves RASR's *-updates-history at false:\n" + cfg);
    Tensor feats = npy(root, m.get("inputs"), DATA);
    int[] lens = new int[m.get("lengths").size()];
    for (int i = 0; i < lens.length; i++) lens[i] = m.get("lengths").get(i).asInt();
    int steps = sbs.get("steps").asInt();
    int batch = lens.length;
    int time = (int) feats.shape()[1], dim = (int) feats.shape()[2];
    float[] all = feats.toFloats();
    // TF's reference as RASR feeds a segment: the step-by-step graph driven per segment (batch 1), RETURNN's protocol
    float[][][] tfSeg = TF_PER_SEGMENT.get(m.get("name").asText());
    if (tfSeg == null) {
      tfSeg = new float[batch][][];
      for (int b = 0; b < batch; b++) {
        tfSeg[b] = tfStepByStep(graph, info, root.resolve(m.get("checkpoint").asText()),
            java.util.Arrays.copyOfRange(all, b * time * dim, (b * time + lens[b]) * dim), lens[b], dim, steps);
      }
      TF_PER_SEGMENT.put(m.get("name").asText(), tfSeg);
    }
    // the recorded reference (TF on the padded batch of all segments) is what the longest segment gets alone
    float[] tfScores = Npy.read(root.resolve(sbs.get("scores").get("file").asText())).toFloats();
    int v = tfSeg[0][0].length, longest = 0;
    for (int b = 0; b < batch; b++) if (lens[b] > lens[longest]) longest = b;
    double recorded = 0;
    for (int s = 0; s < steps; s++) {
      for (int k = 0; k < v; k++) recorded = Math.max(recorded, Math.abs(tfSeg[longest][s][k] - tfScores[(s * batch + longest) * v + k]));
    }
    assertTrue(recorded < TOL, "TF per segment vs the recorded reference (longest segment) " + recorded);
    int[] tfLabels = new int[batch * steps];
    for (int b = 0; b < batch; b++) {
      for (int s = 0; s < steps; s++) {
        int best = 0;
        for (int k = 1; k < v; k++) if (tfSeg[b][s][k] > tfSeg[b][s][best]) best = k;
        tfLabels[b * steps + s] = best;
      }
    }
    // a decoder state with a dynamic axis past the batch grows by a frame per label (a Transformer decoder's
    // self-attention keys/values): hypotheses of another depth do not concatenate with it, so none joins the batch
    boolean growing = StepByStep.readInfo(info).stateVars().values().stream().anyMatch(
        sv -> sv.key().startsWith("state/") && java.util.Arrays.stream(sv.shape()).skip(1).anyMatch(x -> x < 0));
    double worst = 0, worstAlone = 0;
    try (RasrStatefulOnnxDriver d = new RasrStatefulOnnxDriver(models.initializer().toBytes(), models.updater().toBytes(),
        models.scorer().toBytes(), scale)) {
      for (int b = 0; b < batch; b++) {
        float[] seg = java.util.Arrays.copyOfRange(all, b * time * dim, (b * time + lens[b]) * dim);
        Map<String, RasrStatefulOnnxDriver.Val> path = d.initial(seg, lens[b], dim), first = path;
        float[] step1 = null;
        for (int s = 0; s < steps; s++) {
          float[] costs;
          if (s == 0) {
            costs = d.scores(List.of(path))[0];
          } else {
            int l = tfLabels[b * steps + s - 1];
            // from step 2 on a 4th hypothesis one label deep (the initial state + TF's first label) joins the batch
            boolean deeper = s >= 2 && !growing;
            List<Map<String, RasrStatefulOnnxDriver.Val>> parents = deeper ? List.of(path, path, path, first) : List.of(path, path, path);
            int[] tokens = deeper ? new int[] {(l + 1) % v, l, (l + 2) % v, tfLabels[b * steps]} : new int[] {(l + 1) % v, l, (l + 2) % v};
            List<Map<String, RasrStatefulOnnxDriver.Val>> next = d.update(parents, tokens);
            float[][] sc = d.scores(next);
            if (s == 1) step1 = sc[1];
            if (deeper) for (int k = 0; k < v; k++) worstAlone = Math.max(worstAlone, Math.abs(sc[3][k] - step1[k]));
            for (int alt : new int[] {0, 2}) {
              float[] alone = d.scores(List.of(next.get(alt)))[0];
              for (int k = 0; k < v; k++) worstAlone = Math.max(worstAlone, Math.abs(alone[k] - sc[alt][k]));
            }
            path = next.get(1);
            costs = sc[1];
          }
          int best = 0;
          for (int k = 0; k < v; k++) {
            worst = Math.max(worst, Math.abs(costs[k] + tfSeg[b][s][k]));
            if (costs[k] < costs[best]) best = k;
          }
          assertEquals(tfLabels[b * steps + s], best, "segment " + b + " step " + s + ": TF's label has the smallest cost");
        }
      }
    }
    System.out.println("ORT " + OrtCompatibilityTest.loadedVersion() + " zoo " + m.get("name").asText() + " RASR stateful-onnx ("
        + form + (negate ? ", -log p from the model" : ", scale -1 on log p") + "), batch 1 per segment, 3-4 hypotheses of two depths a call: "
        + "max |cost + TF log p| " + worst + ", batched vs alone " + worstAlone);
    assertTrue(worst < TOL, "off TF's per-step scores by " + worst);
    assertTrue(worstAlone < TOL, "a hypothesis scored in a batch differs from alone by " + worstAlone);
  }

  /** A key of the generated RASR config, as RASR's Core::ParameterBool reads it ({@code def} when absent). */
  static boolean configBool(String cfg, String key, boolean def) {
    java.util.regex.Matcher k = java.util.regex.Pattern.compile("(?m)^" + java.util.regex.Pattern.quote(key) + " = (\\S+)$").matcher(cfg);
    return k.find() ? Boolean.parseBoolean(k.group(1)) : def;
  }

  /**
   * A frame-synchronous model (zoo {@code rnn-transducer}, RNA topology, blank 0) driven as RASR's
   * LexiconfreeTimesyncBeamSearch drives a {@code stateful-onnx} label scorer: per search step the scorer on every
   * hypothesis' context, then each extension through {@code extendedScoringContext} with the transition type the
   * search infers (blank {@link StepByStep#BLANK}, collapse-repeated-labels false), the {@code *-updates-history} keys
   * from the generated config; the updater runs when an extended context is next scored. One search step per encoder
   * frame (the segment's length: the model has no subsampling), the score's timeframe the label sequence's length. TF's
   * path (TF's argmax with blank forced at odd and the last three frames, so that every blank transition occurs; TF run
   * with the same choices), its label between two others per step, from step 2 a fourth hypothesis one frame deep, must get TF's
   * per-frame scores as costs to 1e-5, and the carried step index {@code i} must equal RASR's timeframe. With RASR's
   * defaults (both keys false) a blank does not run the updater, {@code i} falls behind the frame, and the costs are off
   * TF's by more than the tolerance (checked).
   */
  void transducer(Path root, JsonNode m, StepByStep.Form form, StepByStep.Models models, String cfg, float scale, boolean negate)
      throws Exception {
    String name = m.get("name").asText();
    boolean blankUpd = configBool(cfg, "blank-updates-history", false), loopUpd = configBool(cfg, "loop-updates-history", false);
    assertTrue(blankUpd && loopUpd, "a frame-synchronous model needs blank- and loop-updates-history = true:\n" + cfg);
    JsonNode sbs = m.get("step_by_step");
    Path graph = root.resolve(sbs.get("graph").asText()), info = root.resolve(sbs.get("info").asText());
    Tensor feats = npy(root, m.get("inputs"), DATA);
    int[] lens = new int[m.get("lengths").size()];
    for (int i = 0; i < lens.length; i++) lens[i] = m.get("lengths").get(i).asInt();
    int batch = lens.length, time = (int) feats.shape()[1], dim = (int) feats.shape()[2], steps = sbs.get("steps").asInt();
    float[] all = feats.toFloats();
    // TF per segment, one step per frame of the segment (RETURNN's rec layer over the encoder frames)
    // TF's greedy labels on the zoo model emit at every frame, so the driven path is forced: blank at every odd frame
    // (blank after a label, blank after blank from a start at frame 0 for the 1-frame segment), TF's argmax elsewhere;
    // TF runs the same choices
    float[][][] tfSeg = TF_PER_SEGMENT.get(name), tfGreedy = TF_PER_SEGMENT.get(name + "/greedy");
    if (tfSeg == null) {
      tfSeg = new float[batch][][];
      tfGreedy = new float[batch][][];
      for (int b = 0; b < batch; b++) {
        float[] seg = java.util.Arrays.copyOfRange(all, b * time * dim, (b * time + lens[b]) * dim);
        int[] forced = new int[lens[b]];
        for (int s = 0; s < lens[b]; s++) forced[s] = s % 2 == 1 || s + 3 >= lens[b] ? StepByStep.BLANK : -1;
        tfSeg[b] = tfStepByStep(graph, info, root.resolve(m.get("checkpoint").asText()), seg, lens[b], dim, lens[b], forced);
        tfGreedy[b] = tfStepByStep(graph, info, root.resolve(m.get("checkpoint").asText()), seg, lens[b], dim, lens[b]);
      }
      TF_PER_SEGMENT.put(name, tfSeg);
      TF_PER_SEGMENT.put(name + "/greedy", tfGreedy);
    }
    float[] tfScores = Npy.read(root.resolve(sbs.get("scores").get("file").asText())).toFloats();
    int v = tfSeg[0][0].length, longest = 0;
    for (int b = 0; b < batch; b++) if (lens[b] > lens[longest]) longest = b;
    assertEquals(steps, lens[longest], "the recorded reference runs one step per frame of the longest segment");
    double recorded = 0;
    for (int s = 0; s < steps; s++) {
      for (int k = 0; k < v; k++) recorded = Math.max(recorded, Math.abs(tfGreedy[longest][s][k] - tfScores[(s * batch + longest) * v + k]));
    }
    assertTrue(recorded < TOL, "TF per segment vs the recorded reference (longest segment) " + recorded);
    int[][] tfLabels = new int[batch][];
    int blanks = 0;
    for (int b = 0; b < batch; b++) {
      tfLabels[b] = new int[lens[b]];
      for (int s = 0; s < lens[b]; s++) {
        int best = 0;
        for (int k = 1; k < v; k++) if (tfSeg[b][s][k] > tfSeg[b][s][best]) best = k;
        tfLabels[b][s] = s % 2 == 1 || s + 3 >= lens[b] ? StepByStep.BLANK : best;
        if (tfLabels[b][s] == StepByStep.BLANK && s + 1 < lens[b]) blanks++;
      }
    }
    assertTrue(blanks > 0, "the driven paths extend by blank somewhere (else the blank keys would not matter)");
    double worst = 0, worstAlone = 0, defaults = 0;
    try (RasrStatefulOnnxDriver d = new RasrStatefulOnnxDriver(models.initializer().toBytes(), models.updater().toBytes(),
        models.scorer().toBytes(), scale)) {
      for (int b = 0; b < batch; b++) {
        float[] seg = java.util.Arrays.copyOfRange(all, b * time * dim, (b * time + lens[b]) * dim);
        RasrStatefulOnnxDriver.Context start = new RasrStatefulOnnxDriver.Context(List.of(), d.initial(seg, lens[b], dim), false);
        RasrStatefulOnnxDriver.Context path = start, first = null, dflt = start;
        float[] step1 = null;
        for (int s = 0; s < lens[b]; s++) {
          float[] costs;
          if (s == 0) {
            costs = d.scoreContexts(List.of(path))[0];
          } else {
            int l = tfLabels[b][s - 1];
            List<RasrStatefulOnnxDriver.Context> ext = new ArrayList<>();
            for (int tok : new int[] {(l + 1) % v, l, (l + 2) % v}) {
              ext.add(d.extend(path, tok, RasrStatefulOnnxDriver.transition(path.last(), tok, StepByStep.BLANK, false), blankUpd, loopUpd));
            }
            if (s >= 2) ext.add(first);
            float[][] sc = d.scoreContexts(ext);
            for (int h = 0; h < ext.size(); h++) {
              // RASR's timeframe of these scores is the label sequence length; the model's step index must be it
              int[] iState = ext.get(h).state.get(StepByStep.STEP).i();
              assertEquals(ext.get(h).labelSeq.size(), iState[0], "segment " + b + " step " + s + " hypothesis " + h + ": i = timeframe");
            }
            if (s == 1) {
              step1 = sc[1];
              first = ext.get(1);
            }
            if (s >= 2) for (int k = 0; k < v; k++) worstAlone = Math.max(worstAlone, Math.abs(sc[3][k] - step1[k]));
            for (int alt : new int[] {0, 2}) {
              float[] alone = d.scoreContexts(List.of(ext.get(alt)))[0];
              for (int k = 0; k < v; k++) worstAlone = Math.max(worstAlone, Math.abs(alone[k] - sc[alt][k]));
            }
            path = ext.get(1);
            costs = sc[1];
            // the same path with RASR's defaults (blank- and loop-updates-history false)
            dflt = d.extend(dflt, l, RasrStatefulOnnxDriver.transition(dflt.last(), l, StepByStep.BLANK, false), false, false);
          }
          float[] dcosts = d.scoreContexts(List.of(dflt))[0];
          int best = 0;
          for (int k = 0; k < v; k++) {
            worst = Math.max(worst, Math.abs(costs[k] + tfSeg[b][s][k]));
            defaults = Math.max(defaults, Math.abs(dcosts[k] + tfSeg[b][s][k]));
            if (costs[k] < costs[best]) best = k;
          }
          int tfBest = 0;
          for (int k = 1; k < v; k++) if (tfSeg[b][s][k] > tfSeg[b][s][tfBest]) tfBest = k;
          assertEquals(tfBest, best, "segment " + b + " frame " + s + ": TF's best label has the smallest cost");
        }
        assertEquals(lens[b] - 1, path.labelSeq.size(), "one label per frame");
      }
    }
    System.out.println("ORT " + OrtCompatibilityTest.loadedVersion() + " zoo " + name + " RASR stateful-onnx, time-synchronous (" + form + ", "
        + (negate ? "-log p from the model" : "scale -1 on log p") + ", blank- and loop-updates-history true), batch 1 per segment, "
        + "3-4 hypotheses of two frames a call: max |cost + TF log p| " + worst + ", batched vs alone " + worstAlone
        + "; with RASR's defaults (false): " + defaults);
    assertTrue(worst < TOL, "off TF's per-frame scores by " + worst);
    assertTrue(worstAlone < TOL, "a hypothesis scored in a batch differs from alone by " + worstAlone);
    assertTrue(defaults > TOL, "with blank-updates-history false the scores must be off (the test can fail): " + defaults);
  }

  /**
   * TF running the step-by-step graph for one segment (batch 1) as zoo/reference.py's step_by_step_reference does:
   * init_op on the features, the choice variable at 0, per step IO/i = step, update_ops, decode_ops, the scores
   * variable read, the argmax assigned to the choice variable. RETURNN's NativeLstm2 runs as its TF twin. Returns
   * the scores [steps][V] (log p).
   */
  static float[][] tfStepByStep(Path graphFile, Path infoFile, Path ckpt, float[] seg, int frames, int dim, int steps) throws IOException {
    return tfStepByStep(graphFile, infoFile, ckpt, seg, frames, dim, steps, null);
  }

  /** {@code forced}: where {@code forced[s] >= 0} that label is the step's choice instead of the argmax. */
  static float[][] tfStepByStep(Path graphFile, Path infoFile, Path ckpt, float[] seg, int frames, int dim, int steps, int[] forced)
      throws IOException {
    org.tensorflow.proto.MetaGraphDef meta = org.tensorflow.proto.MetaGraphDef.parseFrom(Files.readAllBytes(graphFile));
    org.tensorflow.proto.GraphDef g = LstmTwin.of(meta.getGraphDef());
    StepByStep.Info info = StepByStep.readInfo(infoFile);
    Map<String, org.tensorflow.proto.NodeDef> nodes = new HashMap<>();
    for (org.tensorflow.proto.NodeDef n : g.getNodeList()) nodes.put(n.getName(), n);
    String iVar = info.stateVars().get("i").varOp(), choice = info.stateVars().get(info.choiceKey()).varOp();
    String scores = info.stateVars().get(info.scoresKey()).varOp();
    java.util.function.Function<String, List<String>> collection = c -> {
      List<String> ops = new ArrayList<>();
      for (String x : meta.getCollectionDefMap().get(c).getNodeList().getValueList()) ops.add(x.replaceAll(":\\d+$", ""));
      return ops;
    };
    float[][] out = new float[steps][];
    try (TfReference tf = TfReference.open(g, ckpt, null, n -> !n.getName().startsWith("IO/"))) {
      Map<String, Tensor> feeds = Map.of(DATA + ":0", Tensor.ofFloats(new long[] {1, frames, dim}, seg), LENGTHS + ":0",
          Tensor.ofInts(new long[] {1}, frames));
      // init_op is a group of assigns whose order TF does not fix; in the transducer's graph the initial states read
      // IO/base_size_time, which the same group assigns (batch_dim_from_base_state_var_base_size_time), so a run can
      // find it not yet created. Every assign is a function of the feeds only: a second run completes it.
      for (int attempt = 0; ; attempt++) {
        try {
          tf.runTargets(feeds, List.of(info.initOp()));
          break;
        } catch (org.tensorflow.exceptions.TFFailedPreconditionException e) {
          if (attempt >= 2 || !String.valueOf(e.getMessage()).contains("IO/")) throw e;
        }
      }
      // Variable.load: the variable's own initializer assign, its initial value fed
      java.util.function.BiConsumer<String, Tensor> load = (var, value) ->
          tf.runTargets(Map.of(nodes.get(var + "/Assign").getInput(1), value), List.of(var + "/Assign"));
      load.accept(choice, Tensor.ofInts(new long[] {1}, 0));
      for (int s = 0; s < steps; s++) {
        load.accept(iVar, Tensor.ofInts(new long[] {}, s));
        // the rec layer's own delayed updates (zoo/reference.py: besides them TF's update_ops holds every batch_norm
        // layer's update group, whose control dependencies recompute the encoder from the placeholders)
        tf.runTargets(Map.of(), collection.apply("update_ops").stream().filter(o -> o.startsWith("output/rec/")).toList());
        tf.runTargets(Map.of(), collection.apply("decode_ops"));
        out[s] = tf.run(Map.of(), List.of(scores + "/Read/ReadVariableOp:0")).values().iterator().next().toFloats();
        int best = 0;
        for (int k = 1; k < out[s].length; k++) if (out[s][k] > out[s][best]) best = k;
        if (forced != null && forced[s] >= 0) best = forced[s];
        load.accept(choice, Tensor.ofInts(new long[] {1}, best));
      }
    }
    return out;
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
