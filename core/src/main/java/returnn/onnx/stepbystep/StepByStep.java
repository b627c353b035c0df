package returnn.onnx.stepbystep;

import returnn.onnx.io.MetadataJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ConversionException;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.tf.GraphReader;
import returnn.onnx.tf.TfModel;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * RETURNN's step-by-step decoder graph ({@code compile_tf_graph.py --rec_step_by_step output
 * --rec_step_by_step_output_file info.json}) as RASR's {@code stateful-onnx} label scorer models.
 *
 * <p>The graph keeps the decoder state in TF variables under {@code IO/} (the info file's {@code state_vars}). RETURNN's
 * protocol: {@code init_op} assigns every state from the encoder input; then per step the driver sets {@code IO/i},
 * runs {@code update_ops} (only for i > 0: the delayed states, e.g. the previous label's embedding, from the choice
 * variable), runs {@code decode_ops} (the decoder step: the scores variable and the new recurrent states), reads the
 * scores and assigns the chosen label to the choice variable. The three models cut this at the label:
 *
 * <ul>
 *   <li><b>state initializer</b>: encoder inputs → every carried state (what {@code init_op} assigns; the choice
 *       variable, which {@code init_op} leaves uninitialised, starts at 0 as the choice layer's initial output);</li>
 *   <li><b>scorer</b>: states → {@code scores} [B, V] (the {@code calc_scores_op}'s value, log-probabilities);</li>
 *   <li><b>state updater</b>: states + {@code token} int32 [B] → every state after the decode step and the update
 *       with {@code token} as the choice (RETURNN's decode_ops, then choice = token, then update_ops with i > 0).</li>
 * </ul>
 * Scoring the initializer's states gives TF's step-0 scores; the updater applied to the step-n states and label n
 * gives the step-n+1 states. That is the cut of {@link Form#STATEFUL_SPLIT}; the default {@link Form#STATEFUL} carries
 * the states after the decoder step instead (scores included), so the initializer also runs step 0, the updater runs
 * choice = token, the delayed update and the next step, and the scorer reads the scores state: the decoder cell runs
 * once per label. RETURNN's attention mask bound {@code max(base_size)} becomes the encoder states' time axis
 * ({@link Rewriter#maskByEncoderTime}), so hypotheses of different encoder lengths batch exactly. Every variable read of a state becomes a model input, every assign an output; each
 * state has the hypotheses on axis 0. The scalar loop variables ({@code i}, {@code cond}) are not carried: the
 * updater always applies the update (i > 0), and {@code cond} is an output of the loop only. The weights come from
 * the checkpoint as in {@link Converter}.
 *
 * <p>Names: a state input and an initializer output carry the state's key ({@code state/s/extra/state/c}); an
 * updater output is {@code KEY/updated}. The metadata maps each such ONNX name to the state's key (RASR's
 * {@code OnnxHiddenStateModel} convention), and {@value #METADATA_KEY} describes the model's role.
 */
public final class StepByStep {
  public static final String TOKEN = "token";
  public static final String SCORES = "scores";
  public static final String UPDATED = "/updated";
  public static final String METADATA_KEY = "returnn_onnx.step_by_step";
  public static final String INITIALIZER = "state-initializer";
  public static final String UPDATER = "state-updater";
  public static final String SCORER = "scorer";
  /**
   * The step index state of a frame-synchronous (transducer) graph. FRAME_SYNC_NOTE: RETURNN's rec layer over the
   * encoder frames (RNN-T / RNA, {@code "from": "encoder"}) reads its input frame by {@code TensorArrayReadV3(source_ta,
   * IO/i)} in every decoder step, so the scorer and the updater need the step index, which the driver sets (RETURNN
   * compiles without update_i_in_graph). The models carry it as an int32 [B] state {@code i} (initializer: 0, updater:
   * i + 1), and the frame read becomes a per-row GatherNd (row b reads frame i[b], see Rewriter.perRowFrameReads), so
   * the hypotheses stay independent rows even at different frames. Other uses of the scalar IO/i (the loop condition,
   * the delayed update's i > 0) get row 0's value; the updater applies the delayed update unconditionally (TF applies
   * it at the next step, where i > 0).
   */
  public static final String STEP = "i";

  /** The blank label of RETURNN's transducer setups as the zoo's (the configs' {@code blank0}): label 0. */
  public static final int BLANK = 0;

  private StepByStep() {}

  /** One {@code state_vars} entry; {@code shape} -1 for a dynamic dim. */
  public record StateVar(String key, String varOp, DataType dtype, long[] shape) {}

  /** The info file of one graph, restricted to what the models need (one choice layer). */
  public record Info(String initOp, Map<String, StateVar> stateVars, String choiceKey, String scoresKey, String calcScoresOp) {
    /** The states the models carry: every state with a batch axis except the scores variable. */
    public List<String> carried() {
      List<String> l = new ArrayList<>();
      for (StateVar v : stateVars.values()) if (v.shape().length > 0 && !v.key().equals(scoresKey)) l.add(v.key());
      return l;
    }
  }

  /** The three converted models, not yet written, and the carried state keys. */
  public record Models(Converter.Result initializer, Converter.Result updater, Converter.Result scorer, List<String> states) {
    public void writeTo(Path dir) {
      try {
        Files.createDirectories(dir);
      } catch (IOException e) {
        throw ConversionException.atFile(dir, "cannot create the folder: " + e.getMessage());
      }
      initializer.write(dir.resolve(INITIALIZER + ".onnx"));
      updater.write(dir.resolve(UPDATER + ".onnx"));
      scorer.write(dir.resolve(SCORER + ".onnx"));
    }
  }

  /** The info file beside a graph: {@code rec_step_by_step.meta} → {@code rec_step_by_step.json}. */
  public static Path defaultInfo(Path graph) {
    String name = graph.getFileName().toString();
    int dot = name.lastIndexOf('.');
    return graph.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ".json");
  }

  @SuppressWarnings("unchecked")
  public static Info readInfo(Path file) {
    Object root;
    try {
      root = MetadataJson.parse(Files.readString(file));
    } catch (IOException e) {
      throw ConversionException.atFile(file, "cannot read the step-by-step info: " + e.getMessage());
    } catch (IllegalArgumentException e) {
      throw ConversionException.atFile(file, "not a step-by-step info file: " + e.getMessage());
    }
    try {
      Map<String, Object> m = (Map<String, Object>) root;
      String initOp = (String) m.get("init_op");
      Map<String, Object> vars = (Map<String, Object>) m.get("state_vars");
      List<Object> order = (List<Object>) m.get("stochastic_var_order");
      Map<String, Object> stoch = (Map<String, Object>) m.get("stochastic_vars");
      if (initOp == null || vars == null || order == null || stoch == null) {
        throw ConversionException.atFile(file, "not a step-by-step info file (needs init_op, state_vars, stochastic_var_order, stochastic_vars)");
      }
      if (order.size() != 1) {
        throw ConversionException.atFile(file, order.size() + " choice layers " + order + ": only one is supported");
      }
      Map<String, Object> s = (Map<String, Object>) stoch.get((String) order.get(0));
      Map<String, StateVar> states = new LinkedHashMap<>();
      for (Map.Entry<String, Object> e : vars.entrySet()) {
        Map<String, Object> v = (Map<String, Object>) e.getValue();
        List<Object> shape = (List<Object>) v.get("shape");
        long[] dims = new long[shape.size()];
        for (int i = 0; i < dims.length; i++) dims[i] = shape.get(i) == null ? -1 : ((Number) shape.get(i)).longValue();
        states.put(e.getKey(), new StateVar(e.getKey(), (String) v.get("var_op"), dtype(file, (String) v.get("dtype")), dims));
      }
      String choice = (String) s.get("choice_state_var");
      String scores = (String) s.get("scores_state_var");
      if (!states.containsKey(choice) || !states.containsKey(scores)) {
        throw ConversionException.atFile(file, "the choice/scores state vars '" + choice + "', '" + scores + "' are not in state_vars");
      }
      return new Info(initOp, states, choice, scores, (String) s.get("calc_scores_op"));
    } catch (ClassCastException | NullPointerException e) {
      throw ConversionException.atFile(file, "malformed step-by-step info: " + e.getMessage());
    }
  }

  private static DataType dtype(Path file, String s) {
    return switch (s == null ? "" : s) {
      case "float32" -> DataType.DT_FLOAT;
      case "float64" -> DataType.DT_DOUBLE;
      case "int32" -> DataType.DT_INT32;
      case "int64" -> DataType.DT_INT64;
      case "bool" -> DataType.DT_BOOL;
      default -> throw ConversionException.atFile(file, "state variable dtype '" + s + "' is not supported");
    };
  }

  /**
   * How the decoder step is cut into the three models.
   * <ul>
   *   <li>{@link #STATEFUL} (default): the carried states are RETURNN's variables <i>after</i> a decoder step, the
   *       scores variable included. The initializer runs init_op and the first decoder step, the updater sets the
   *       choice to {@code token}, runs the delayed updates and the next decoder step, and the scorer only reads the
   *       scores state: the decoder cell runs once per label.</li>
   *   <li>{@link #STATEFUL_SPLIT}: the carried states are the variables <i>before</i> a decoder step; the scorer runs
   *       the step for the scores, the updater runs it again for the new states (the cell runs twice per label).</li>
   * </ul>
   */
  public enum Form { STATEFUL, STATEFUL_SPLIT }

  /** Converts the graph {@code o.graph()} with its info file into the three models (scores: log p, as RETURNN's). */
  public static Models convert(ConvertOptions o, Path infoFile) {
    return convert(o, infoFile, false);
  }

  /** {@code negateScores}: the scorer gives -log p (costs) instead of RETURNN's log p. */
  public static Models convert(ConvertOptions o, Path infoFile, boolean negateScores) {
    return convert(o, infoFile, negateScores, Form.STATEFUL);
  }

  public static Models convert(ConvertOptions o, Path infoFile, boolean negateScores, Form form) {
    try {
      return convertForm(o, infoFile, negateScores, form);
    } catch (ConversionException e) {
      if (form != Form.STATEFUL || !String.valueOf(e.getMessage()).contains("shared by two phases")) throw e;
      throw new ConversionException(e.getMessage() + " (the default form runs the delayed update before the decoder step; "
          + "--step-by-step-form stateful-split runs them the other way round)", e);
    }
  }

  private static Models convertForm(ConvertOptions o, Path infoFile, boolean negateScores, Form form) {
    Info info = readInfo(infoFile);
    TfModel model = GraphReader.read(o.graph());
    List<String> carried = info.carried();
    if (!carried.contains(info.choiceKey())) {
      throw new ConversionException(infoFile + ": the choice variable '" + info.choiceKey() + "' has no batch axis");
    }
    // A time-synchronous decoder (RNN-T / RNA: the rec layer iterates over the encoder frames) reads frame IO/i of its
    // input in every step: the step index is then carried as an int32 [B] state "i" (see FRAME_SYNC_NOTE). In the
    // STATEFUL form i is the frame of the last decoder step (the initializer's step reads frame 0, the updater
    // advances i first and reads frame i + 1); in STATEFUL_SPLIT the frame the next step reads.
    boolean frameSync = readsInputFrame(model.graph(), info);
    if (frameSync || form == Form.STATEFUL) carried = new ArrayList<>(carried);
    if (frameSync) carried.add(STEP);
    if (form == Form.STATEFUL) {
      carried.add(info.scoresKey());
    }

    // state initializer
    Rewriter init = new Rewriter(model.graph(), info);
    // init_op's assigns that read no state first: RETURNN's initial states may take the batch size from a state that
    // init_op itself assigns (batch_dim_from_base_state_var_base_size_time reads IO/base_size_time), then the rest
    List<String> initAssigns = init.initAssigns();
    List<String> independent = initAssigns.stream().filter(a -> !init.readsState(a)).toList();
    Map<String, String> s0 = init.phase(independent, new HashMap<>());
    List<String> dependent = initAssigns.stream().filter(a -> !independent.contains(a)).toList();
    if (!dependent.isEmpty()) s0.putAll(init.phase(dependent, new HashMap<>(s0)));
    if (!s0.containsKey(info.choiceKey())) s0.put(info.choiceKey(), init.zerosLikeBatch(s0, carried));
    // RETURNN's initial_i is 0: every row starts at encoder frame 0
    if (frameSync) s0.put(STEP, init.zerosLikeBatch(s0, carried));
    if (form == Form.STATEFUL) {
      // the first decoder step (i = 0) on the initial states
      Map<String, String> cur = new HashMap<>(s0);
      init.putStep(cur, 0);
      s0.putAll(init.phase(init.decodeAssigns(carried, info.calcScoresOp()), cur));
    }
    Map<String, String> outs = new LinkedHashMap<>();
    Map<String, String> keys = new HashMap<>();
    for (String k : carried) {
      if (!s0.containsKey(k)) throw new ConversionException(o.graph() + ": init_op assigns no value to state '" + k + "'");
      outs.put(k, s0.get(k));
      keys.put(k, k);
    }
    Converter.Result initializer = convertPart(o, model, init.withOutputs(outs, keys), List.copyOf(outs.keySet()), INITIALIZER,
        info, carried, false, form);

    // scorer
    Rewriter sc = new Rewriter(model.graph(), info);
    String scores;
    if (form == Form.STATEFUL) {
      scores = sc.placeholders(List.of(info.scoresKey())).get(info.scoresKey());
    } else {
      Map<String, String> cur = sc.placeholders(carried);
      scores = sc.phase(List.of(sc.assignNode(info.calcScoresOp())), cur).get(info.scoresKey());
    }
    if (negateScores) scores = sc.neg(scores, info.stateVars().get(info.scoresKey()).dtype());
    Converter.Result scorer = convertPart(o, model, sc.withOutputs(Map.of(SCORES, scores),
        Map.of(SCORES, info.scoresKey())), List.of(SCORES), SCORER, info, carried, negateScores, form);

    // state updater: STATEFUL_SPLIT: decode step, choice = token, delayed update (i > 0);
    // STATEFUL: choice = token, delayed update (i > 0), decode step
    Rewriter up = new Rewriter(model.graph(), info);
    // STATEFUL: the step index input is the frame of the last decoder step; the updater's step reads frame i + 1
    if (frameSync && form == Form.STATEFUL) up.advanceStepFirst = true;
    Map<String, String> cur = up.placeholders(carried);
    if (frameSync && form == Form.STATEFUL) {
      // choice = token, the delayed update (always: i + 1 > 0), the decoder step at frame i + 1 (every row its own)
      cur.put(info.choiceKey(), up.placeholder(TOKEN, DataType.DT_INT32, new long[] {-1}));
      cur.putAll(up.phase(up.updateAssigns(carried), cur, true));
      cur.putAll(up.phase(up.decodeAssigns(carried, info.calcScoresOp()), cur));
      cur.put(STEP, up.stepRows);
    } else if (frameSync) {
      cur.putAll(up.phase(up.decodeAssigns(carried), cur));
      cur.put(info.choiceKey(), up.placeholder(TOKEN, DataType.DT_INT32, new long[] {-1}));
      // the delayed update as TF applies it at the next step (i + 1 > 0): always, its i > 0 predicate not evaluated
      // (in a frame-synchronous graph the decode step and the predicate read IO/i through one shared node)
      cur.putAll(up.phase(up.updateAssigns(carried), cur, true));
      cur.put(STEP, up.plusOne(STEP));
    } else {
      up.putStep(cur, 1);
      if (form == Form.STATEFUL_SPLIT) cur.putAll(up.phase(up.decodeAssigns(carried, null), cur));
      cur.put(info.choiceKey(), up.placeholder(TOKEN, DataType.DT_INT32, new long[] {-1}));
      cur.putAll(up.phase(up.updateAssigns(carried), cur));
      if (form == Form.STATEFUL) cur.putAll(up.phase(up.decodeAssigns(carried, info.calcScoresOp()), cur));
    }
    outs = new LinkedHashMap<>();
    keys = new HashMap<>();
    for (String k : carried) {
      outs.put(k + UPDATED, cur.get(k));
      keys.put(k + UPDATED, k);
    }
    Converter.Result updater = convertPart(o, model, up.withOutputs(outs, keys), List.copyOf(outs.keySet()), UPDATER, info, carried,
        false, form);
    return new Models(initializer, updater, scorer, carried);
  }

  /**
   * Whether the graph's decoder reads its input frame at the step index: a {@code TensorArrayReadV3} whose index is a
   * read of the {@code i} state variable (through Identity), as RETURNN's {@code source_ta_read} of a rec layer that
   * iterates over an input sequence.
   */
  static boolean readsInputFrame(GraphDef g, Info info) {
    StateVar i = info.stateVars().get(STEP);
    if (i == null || i.shape().length != 0) return false;
    Map<String, NodeDef> byName = new HashMap<>();
    for (NodeDef n : g.getNodeList()) byName.put(n.getName(), n);
    for (NodeDef n : g.getNodeList()) {
      if (!n.getOp().equals("TensorArrayReadV3") || n.getInputCount() < 2) continue;
      NodeDef x = byName.get(Rewriter.base(n.getInput(1)));
      while (x != null && x.getOp().equals("Identity")) x = byName.get(Rewriter.base(x.getInput(0)));
      if (x != null && x.getOp().equals("ReadVariableOp") && Rewriter.base(x.getInput(0)).equals(i.varOp())) return true;
    }
    return false;
  }

  /**
   * The label-scorer part of a RASR config for the three models (paths relative to their folder), as RASR reads it:
   * the model keys {@code state-initializer-model}, {@code state-updater-model}, {@code scorer-model} with
   * {@code session.file} and {@code io-map.<role>} (StatefulOnnxLabelScorer.cc:164-181, Onnx/Model.cc,
   * IOSpecification.hh:61-71), and {@code scale}, which the label scorer factory's ScaledLabelScorer multiplies every
   * score by (LabelScorerFactory.cc:33-36, ScaledLabelScorer.cc:30-32,60-69). RASR's searches add the scores and keep
   * the smallest (costs; e.g. LexiconfreeLabelsyncBeamSearch.cc:458-471), so the scale is 1 for a scorer giving -log p
   * ({@code negated}) and -1 for RETURNN's log p.
   */
  public static String rasrConfig(Models m, boolean negated) {
    StringBuilder b = new StringBuilder();
    b.append("# RASR stateful-onnx label scorer (src/Nn/LabelScorer/StatefulOnnxLabelScorer.cc), written by returnn-onnx convert --step-by-step.\n");
    b.append("# Put these keys under your label scorer's selection (e.g. [*.label-scorer]); paths are relative to this folder.\n");
    b.append("# The initializer runs RETURNN's encoder itself: RASR feeds the label scorer's input frames (the features) as\n");
    b.append("# encoder-states [1,T,F] and their number as encoder-states-size [1], one segment at a time.\n");
    b.append("# Hidden states (ONNX name = state name in each model's metadata): ").append(String.join(", ", m.states())).append('\n');
    b.append("# RASR's searches add label scores and keep the smallest (costs, -log p); every label scorer is multiplied by 'scale'.\n");
    b.append(negated ? "# The scorer gives -log p (costs), from --negate-scores: scale 1. For a log-linear combination put your weight here.\n"
        : "# The scorer gives RETURNN's log p: scale -1 makes them costs. For a log-linear combination use -weight\n"
            + "# (or convert with --negate-scores and use +weight).\n");
    b.append("type = stateful-onnx\n");
    b.append("scale = ").append(negated ? "1.0" : "-1.0").append('\n');
    b.append("state-initializer-model.session.file = ").append(INITIALIZER).append(".onnx\n");
    for (Value v : m.initializer().graph().inputs()) {
      String role = v.dtype() == returnn.onnx.ir.DType.FLOAT ? "encoder-states" : "encoder-states-size";
      b.append("state-initializer-model.io-map.").append(role).append(" = ").append(v.name()).append('\n');
    }
    b.append("state-updater-model.session.file = ").append(UPDATER).append(".onnx\n");
    b.append("state-updater-model.io-map.token = ").append(TOKEN).append('\n');
    b.append("scorer-model.session.file = ").append(SCORER).append(".onnx\n");
    b.append("scorer-model.io-map.scores = ").append(SCORES).append('\n');
    if (m.states().contains(STEP)) {
      // A frame-synchronous model (transducer): the updater must run on every frame's label, blank and repeats included,
      // so that the carried step index i follows the frame. RASR's extendedScoringContext skips the updater on
      // LABEL_TO_BLANK/INITIAL_BLANK unless blank-updates-history, on BLANK_LOOP unless both blank- and
      // loop-updates-history, on LABEL_LOOP unless loop-updates-history (StatefulOnnxLabelScorer.cc:74-87, 270-301);
      // the score's timeframe is then the label sequence's length = i (cc:382-383).
      b.append("# A frame-synchronous model (transducer, RNA topology): one label per encoder frame, blank included. The carried\n");
      b.append("# step index i advances by one per updater call, so every label (blank and repeats too) must update the state.\n");
      b.append("# Search: a time-synchronous one (search type = lexiconfree-timesync-beam-search) with blank-label-index = your\n");
      b.append("# model's blank (").append(BLANK).append(" in RETURNN's blank0 setups, as the zoo's) and collapse-repeated-labels = false (its default:\n");
      b.append("# RNA emits one label per frame), stopped at the segment's last encoder frame (stateful-onnx scores any length).\n");
      b.append("blank-updates-history = true\n");
      b.append("loop-updates-history = true\n");
    }
    return b.toString();
  }

  private static Converter.Result convertPart(ConvertOptions o, TfModel model, GraphDef g, List<String> outputs, String role,
      Info info, List<String> carried, boolean negate, Form form) {
    TfModel part = new TfModel(g, model.source(), model.format(), null, model.strippedOps(), Map.of(), Map.of(), null);
    ConvertOptions po = ConvertOptions.of(o.graph(), o.checkpoint(), outputs).withOpset(o.opset()).withInputShapes(o.inputShapes())
        .withFuse(o.fuse()).withHandlers(o.handlers());
    Converter.Result r = Converter.convert(po, part);
    for (Value v : r.graph().outputs()) {
      String k = v.name().equals(SCORES) ? info.scoresKey() : v.name().endsWith(UPDATED) ? v.name().substring(0, v.name().length() - UPDATED.length()) : v.name();
      StateVar sv = info.stateVars().get(k);
      if (sv != null) v.setShape(declared(v.shape(), sv.shape()));
    }
    r.report().outputs.clear();
    for (Value v : r.graph().outputs()) r.report().outputs.add(v.toString());
    Map<String, String> md = r.metadata();
    List<Object> states = new ArrayList<>();
    for (Value v : r.graph().inputs()) {
      if (carried.contains(v.name())) {
        md.put(v.name(), v.name());
        states.add(Map.of("input", v.name(), "state", v.name()));
      }
    }
    for (Value v : r.graph().outputs()) {
      String k = v.name().endsWith(UPDATED) ? v.name().substring(0, v.name().length() - UPDATED.length()) : v.name();
      if (carried.contains(k) && (role.equals(INITIALIZER) || v.name().endsWith(UPDATED))) {
        md.put(v.name(), k);
        states.add(Map.of("output", v.name(), "state", k));
      }
    }
    Map<String, Object> desc = new LinkedHashMap<>();
    desc.put("version", 1L);
    desc.put("role", role);
    desc.put("states", states);
    if (role.equals(UPDATER)) desc.put("token", TOKEN);
    if (role.equals(SCORER)) desc.put("scores", SCORES);
    if (role.equals(SCORER)) desc.put("scores_are", negate ? "-log p" : "log p");
    desc.put("choice_state", info.choiceKey());
    desc.put("form", form == Form.STATEFUL ? "stateful" : "stateful-split");
    md.put(METADATA_KEY, MetadataJson.write(desc));
    return r;
  }

  /**
   * The dtype a state has at the model boundary: bool states (RETURNN's {@code end_flag}) are carried as int32 0/1,
   * since RASR's Onnx::Value handles numeric tensors (its templates leave bool out); inside they are cast back.
   */
  static DataType interfaceType(DataType t) {
    return t == DataType.DT_BOOL ? DataType.DT_INT32 : t;
  }

  /**
   * An output's shape where inference left dims unknown: the state variable's static dims, axis 0 the batch
   * (hypotheses). Known dims are kept; another rank is left alone.
   */
  static Shape declared(Shape inferred, long[] state) {
    if (inferred.hasRank() && inferred.rank() != state.length) return inferred;
    List<Dim> dims = new ArrayList<>();
    for (int i = 0; i < state.length; i++) {
      Dim d = inferred.hasRank() ? inferred.dim(i) : Dim.UNKNOWN;
      if (!d.isFixed() && !d.isSymbolic()) d = state[i] >= 0 ? Dim.of(state[i]) : i == 0 ? Dim.sym("batch") : Dim.UNKNOWN;
      dims.add(d);
    }
    return Shape.of(dims);
  }

  /** One rewritten copy of the graph. */
  static final class Rewriter {
    private final Map<String, NodeDef.Builder> nodes = new LinkedHashMap<>();
    private final Map<String, StateVar> byVarOp = new HashMap<>();
    private final Info info;
    /** Read node → {state key, the value it reads now}. */
    private final Map<String, String[]> rewrittenReads = new HashMap<>();
    private int added;
    /** The [B] step index placeholder of a frame-synchronous graph, once made. */
    String stepRows;
    /** The step index input is advanced by one before the decoder step reads its frame (the STATEFUL form's updater). */
    boolean advanceStepFirst;

    Rewriter(GraphDef g, Info info) {
      this.info = info;
      for (NodeDef n : g.getNodeList()) nodes.put(n.getName(), n.toBuilder());
      for (StateVar v : info.stateVars().values()) {
        NodeDef.Builder n = nodes.get(v.varOp());
        if (n == null) throw new ConversionException("state variable '" + v.key() + "': no node '" + v.varOp() + "' in the graph");
        byVarOp.put(v.varOp(), v);
      }
    }

    static String base(String ref) {
      String s = ref.startsWith("^") ? ref.substring(1) : ref;
      int c = s.indexOf(':');
      return c < 0 ? s : s.substring(0, c);
    }

    NodeDef.Builder node(String name) {
      NodeDef.Builder n = nodes.get(name);
      if (n == null) throw new ConversionException("step-by-step graph: no node '" + name + "'");
      return n;
    }

    /** A data edge through TF1 Switch nodes to the switched value (both branches are computed; see phase). */
    String bypass(String ref) {
      while (node(base(ref)).getOp().equals("Switch")) ref = node(base(ref)).getInput(0);
      return ref;
    }

    String assignNode(String name) {
      NodeDef.Builder n = node(name);
      if (!n.getOp().equals("AssignVariableOp")) throw ConversionException.atNode(name, n.getOp(), "expected the AssignVariableOp of a state");
      return name;
    }

    /** The AssignVariableOps init_op runs (its control inputs, through NoOps). */
    List<String> initAssigns() {
      List<String> out = new ArrayList<>();
      List<String> stack = new ArrayList<>(List.of(info.initOp()));
      Set<String> seen = new HashSet<>();
      while (!stack.isEmpty()) {
        String x = base(stack.remove(stack.size() - 1));
        if (!seen.add(x)) continue;
        NodeDef.Builder n = node(x);
        if (n.getOp().equals("AssignVariableOp") && byVarOp.containsKey(base(n.getInput(0)))) out.add(x);
        else if (n.getOp().equals("NoOp")) stack.addAll(n.getInputList());
      }
      return out.stream().sorted().toList();
    }

    /** {@code IO/i} := {@code step} where the graph has the scalar step variable (RETURNN's {@code i}). */
    void putStep(Map<String, String> cur, int step) {
      for (StateVar v : info.stateVars().values()) {
        if (v.shape().length == 0 && v.key().equals("i")) cur.put(v.key(), scalarConst(v, step));
      }
    }

    /**
     * The decoder step's assigns: a state variable written directly, outside init_op, the variable's own initializer
     * and the saver; {@code calcScoresOp} (the scores variable's assign) is among them when given.
     */
    List<String> decodeAssigns(List<String> carried, String calcScoresOp) {
      List<String> out = decodeAssigns(carried);
      if (calcScoresOp != null && !out.contains(assignNode(calcScoresOp))) out.add(calcScoresOp);
      return out;
    }

    List<String> decodeAssigns(List<String> carried) {
      Set<String> init = new HashSet<>(initAssigns());
      List<String> out = new ArrayList<>();
      for (NodeDef.Builder n : nodes.values()) {
        if (!n.getOp().equals("AssignVariableOp") || init.contains(n.getName()) || n.getName().startsWith("save/")) continue;
        StateVar v = byVarOp.get(n.getInput(0));
        if (v == null || n.getName().equals(v.varOp() + "/Assign") || !carried.contains(v.key())) continue;
        out.add(n.getName());
      }
      return out;
    }

    /** The delayed updates: assigns of a state variable inside a cond (its handle through a Switch). */
    List<String> updateAssigns(List<String> carried) {
      List<String> out = new ArrayList<>();
      for (NodeDef.Builder n : nodes.values()) {
        if (!n.getOp().equals("AssignVariableOp") || n.getInputCount() < 2) continue;
        NodeDef.Builder h = nodes.get(base(n.getInput(0)));
        if (h == null || !h.getOp().equals("Switch")) continue;
        StateVar v = byVarOp.get(base(bypass(n.getInput(0))));
        if (v != null && carried.contains(v.key())) out.add(n.getName());
      }
      return out;
    }

    /**
     * Runs the assigns against the state values {@code cur} (key → TF tensor): every read of a state variable in
     * what they compute reads {@code cur}; returns key → the assigned value. An assign inside a cond gives
     * {@code SelectV2(pred, value, cur)}.
     */
    Map<String, String> phase(List<String> assigns, Map<String, String> cur) {
      return phase(assigns, cur, false);
    }

    /** {@code unconditional}: an assign inside a cond is applied as if its predicate held (the predicate is not read). */
    Map<String, String> phase(List<String> assigns, Map<String, String> cur, boolean unconditional) {
      Map<String, String> next = new LinkedHashMap<>();
      Set<String> visited = new HashSet<>();
      for (String a : assigns) {
        NodeDef.Builder n = node(a);
        String handle = n.getInput(0);
        String pred = null;
        NodeDef.Builder h = node(base(handle));
        if (h.getOp().equals("Switch") && !unconditional) pred = h.getInput(1);
        StateVar v = byVarOp.get(base(bypass(handle)));
        if (v == null) throw ConversionException.atNode(a, n.getOp(), "assigns '" + base(bypass(handle)) + "', not a state variable");
        String value = bypass(n.getInput(1));
        visit(value, cur, visited);
        if (pred != null) {
          visit(pred, cur, visited);
          String prev = cur.get(v.key());
          if (prev == null) throw ConversionException.atNode(a, n.getOp(), "conditional update of state '" + v.key() + "' without a previous value");
          String sel = fresh("select");
          nodes.put(sel, NodeDef.newBuilder().setName(sel).setOp("SelectV2").addInput(pred).addInput(value).addInput(prev)
              .putAttr("T", AttrValue.newBuilder().setType(v.dtype()).build()));
          value = sel;
        }
        next.put(v.key(), value);
      }
      return next;
    }

    private void visit(String ref, Map<String, String> cur, Set<String> visited) {
      List<String> stack = new ArrayList<>(List.of(ref));
      while (!stack.isEmpty()) {
        String x = base(stack.remove(stack.size() - 1));
        if (!visited.add(x)) continue;
        NodeDef.Builder n = node(x);
        // data edges only: a control input (a cond branch's constant waits for its switch_t, whose Switch reads the
        // i > 0 predicate) would pull an unrewritten state read into the model (the transducer's IO/i under an
        // unconditional delayed update)
        for (int i = n.getInputCount() - 1; i >= 0; i--) {
          if (n.getInput(i).startsWith("^")) removeInput(n, i);
        }
        for (int i = 0; i < n.getInputCount(); i++) n.setInput(i, bypass(n.getInput(i)));
        String[] done = rewrittenReads.get(x);
        if (done != null) {
          // a read rewritten in an earlier phase: only fine if the state still has the same value
          if (!done[1].equals(cur.get(done[0]))) {
            throw ConversionException.atNode(x, n.getOp(), "read of state '" + done[0] + "' shared by two phases of the step");
          }
          continue;
        }
        if (n.getOp().equals("ReadVariableOp") && byVarOp.containsKey(base(n.getInput(0)))) {
          StateVar v = byVarOp.get(base(n.getInput(0)));
          String src = cur.get(v.key());
          if (src == null) throw ConversionException.atNode(x, n.getOp(), "reads state '" + v.key() + "', which the models do not carry");
          rewrittenReads.put(x, new String[] {v.key(), src});
          DataType t = n.getAttrOrThrow("dtype").getType();
          n.clearInput().addInput(src).clearAttr().putAttr("T", AttrValue.newBuilder().setType(t).build()).setOp("Identity");
          continue;
        }
        for (String in : n.getInputList()) {
          if (in.startsWith("^")) continue;
          if (byVarOp.containsKey(base(in))) {
            throw ConversionException.atNode(x, n.getOp(), "uses state variable '" + base(in) + "' other than by ReadVariableOp");
          }
          stack.add(in);
        }
      }
    }

    private static void removeInput(NodeDef.Builder n, int at) {
      List<String> ins = new ArrayList<>(n.getInputList());
      ins.remove(at);
      n.clearInput().addAllInput(ins);
    }

    String fresh(String what) {
      String name;
      do {
        name = "step_by_step/" + what + "_" + added++;
      } while (nodes.containsKey(name));
      return name;
    }

    String placeholder(String name, DataType t, long[] shape) {
      if (nodes.containsKey(name)) throw new ConversionException("step-by-step: the input name '" + name + "' is taken by a graph node");
      TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
      for (long d : shape) s.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
      nodes.put(name, NodeDef.newBuilder().setName(name).setOp("Placeholder")
          .putAttr("dtype", AttrValue.newBuilder().setType(t).build())
          .putAttr("shape", AttrValue.newBuilder().setShape(s).build()));
      return name;
    }

    Map<String, String> placeholders(List<String> keys) {
      Map<String, String> m = new HashMap<>();
      for (String k : keys) {
        StateVar v = info.stateVars().get(k);
        if (k.equals(STEP) && v.shape().length == 0) {
          // the frame-synchronous step index: [B] at the boundary; the input frame read per row, other uses row 0's
          String ph = placeholder(k, DataType.DT_INT32, new long[] {-1});
          if (advanceStepFirst) {
            String next = fresh("next_step");
            nodes.put(next, NodeDef.newBuilder().setName(next).setOp("AddV2").addInput(ph).addInput(intConst(1))
                .putAttr("T", AttrValue.newBuilder().setType(DataType.DT_INT32).build()));
            ph = next;
          }
          String row0 = fresh("step_row0");
          nodes.put(row0, NodeDef.newBuilder().setName(row0).setOp("StridedSlice").addInput(ph)
              .addInput(intConst(0)).addInput(intConst(1)).addInput(intConst(1))
              .putAttr("T", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
              .putAttr("Index", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
              .putAttr("shrink_axis_mask", AttrValue.newBuilder().setI(1).build()));
          stepRows = ph;
          m.put(k, row0);
          perRowFrameReads(v);
          continue;
        }
        String ph = placeholder(k, interfaceType(v.dtype()), v.shape());
        m.put(k, v.dtype() == interfaceType(v.dtype()) ? ph : cast(ph, interfaceType(v.dtype()), v.dtype()));
      }
      return m;
    }

    /** int32 [1] constant {@code value}. */
    String intConst(int value) {
      String name = fresh("const");
      TensorProto.Builder t = TensorProto.newBuilder().setDtype(DataType.DT_INT32)
          .setTensorShape(TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dim.newBuilder().setSize(1))).addIntVal(value);
      nodes.put(name, NodeDef.newBuilder().setName(name).setOp("Const")
          .putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
          .putAttr("value", AttrValue.newBuilder().setTensor(t).build()));
      return name;
    }

    /**
     * Every {@code TensorArrayReadV3(ta, IO/i)} of an input sequence that a {@code TensorArrayScatterV3} filled with a
     * time-major tensor [T, B, ...] (RETURNN's source_ta of the rec layer's input) becomes a per-row read:
     * {@code GatherNd(value, stack([i_rows, range(B)], 1))}, row b at its own frame i_rows[b]. The hypotheses are then
     * independent rows for what the decoder computes from its input frame.
     */
    void perRowFrameReads(StateVar i) {
      Map<String, String> scatterValue = new HashMap<>();
      for (NodeDef.Builder n : nodes.values()) {
        if (n.getOp().equals("TensorArrayScatterV3")) scatterValue.put(base(n.getInput(0)), n.getInput(2));
      }
      for (NodeDef.Builder n : new ArrayList<>(nodes.values())) {
        if (!n.getOp().equals("TensorArrayReadV3") || n.getInputCount() < 2) continue;
        NodeDef.Builder x = nodes.get(base(n.getInput(1)));
        while (x != null && x.getOp().equals("Identity")) x = nodes.get(base(x.getInput(0)));
        if (x == null || !x.getOp().equals("ReadVariableOp") || !base(x.getInput(0)).equals(i.varOp())) continue;
        String value = scatterValue.get(base(n.getInput(0)));
        if (value == null) continue;  // not an input sequence: left as it is (reads row 0's i)
        String shape = fresh("step_rows_shape");
        nodes.put(shape, NodeDef.newBuilder().setName(shape).setOp("Shape").addInput(stepRows)
            .putAttr("T", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
            .putAttr("out_type", AttrValue.newBuilder().setType(DataType.DT_INT32).build()));
        String rows = fresh("step_rows_count");
        nodes.put(rows, NodeDef.newBuilder().setName(rows).setOp("StridedSlice").addInput(shape)
            .addInput(intConst(0)).addInput(intConst(1)).addInput(intConst(1))
            .putAttr("T", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
            .putAttr("Index", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
            .putAttr("shrink_axis_mask", AttrValue.newBuilder().setI(1).build()));
        String range = fresh("step_rows_range");
        nodes.put(range, NodeDef.newBuilder().setName(range).setOp("Range").addInput(scalarInt(0)).addInput(rows)
            .addInput(scalarInt(1)).putAttr("Tidx", AttrValue.newBuilder().setType(DataType.DT_INT32).build()));
        String idx = fresh("step_rows_index");
        nodes.put(idx, NodeDef.newBuilder().setName(idx).setOp("Pack").addInput(stepRows).addInput(range)
            .putAttr("T", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
            .putAttr("N", AttrValue.newBuilder().setI(2).build())
            .putAttr("axis", AttrValue.newBuilder().setI(1).build()));
        AttrValue dtype = n.getAttrOrThrow("dtype");
        n.clearInput().clearAttr().setOp("GatherNd").addInput(value).addInput(idx)
            .putAttr("Tparams", dtype).putAttr("Tindices", AttrValue.newBuilder().setType(DataType.DT_INT32).build());
      }
    }

    /** int32 scalar constant {@code value}. */
    String scalarInt(int value) {
      String name = fresh("const");
      TensorProto.Builder t = TensorProto.newBuilder().setDtype(DataType.DT_INT32)
          .setTensorShape(TensorShapeProto.getDefaultInstance()).addIntVal(value);
      nodes.put(name, NodeDef.newBuilder().setName(name).setOp("Const")
          .putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
          .putAttr("value", AttrValue.newBuilder().setTensor(t).build()));
      return name;
    }

    /** The carried [B] step index input plus 1 (the updater's "i/updated"). */
    String plusOne(String key) {
      if (stepRows == null) throw new ConversionException("step-by-step: no step input '" + key + "'");
      String name = fresh("next_step");
      nodes.put(name, NodeDef.newBuilder().setName(name).setOp("AddV2").addInput(stepRows).addInput(intConst(1))
          .putAttr("T", AttrValue.newBuilder().setType(DataType.DT_INT32).build()));
      return name;
    }

    /** Whether what {@code assign} writes depends on a read of a state variable (data edges, through Switch). */
    boolean readsState(String assign) {
      List<String> stack = new ArrayList<>(List.of(node(assign).getInput(1)));
      Set<String> seen = new HashSet<>();
      while (!stack.isEmpty()) {
        String x = base(stack.remove(stack.size() - 1));
        if (!seen.add(x)) continue;
        NodeDef.Builder n = node(x);
        if (n.getOp().equals("ReadVariableOp") && byVarOp.containsKey(base(n.getInput(0)))) return true;
        for (String in : n.getInputList()) if (!in.startsWith("^")) stack.add(in);
      }
      return false;
    }

    String cast(String x, DataType from, DataType to) {
      String name = fresh("cast");
      nodes.put(name, NodeDef.newBuilder().setName(name).setOp("Cast").addInput(x)
          .putAttr("SrcT", AttrValue.newBuilder().setType(from).build())
          .putAttr("DstT", AttrValue.newBuilder().setType(to).build())
          .putAttr("Truncate", AttrValue.newBuilder().setB(false).build()));
      return name;
    }

    String neg(String x, DataType t) {
      String name = fresh("neg");
      nodes.put(name, NodeDef.newBuilder().setName(name).setOp("Neg").addInput(x).putAttr("T", AttrValue.newBuilder().setType(t).build()));
      return name;
    }

    String scalarConst(StateVar v, int value) {
      String name = fresh(v.key().replace('/', '_'));
      TensorProto.Builder t = TensorProto.newBuilder().setDtype(v.dtype()).setTensorShape(TensorShapeProto.getDefaultInstance());
      if (v.dtype() == DataType.DT_INT32) t.addIntVal(value);
      else if (v.dtype() == DataType.DT_INT64) t.addInt64Val(value);
      else throw new ConversionException("step-by-step: scalar state '" + v.key() + "' of type " + v.dtype() + " is not supported");
      nodes.put(name, NodeDef.newBuilder().setName(name).setOp("Const")
          .putAttr("dtype", AttrValue.newBuilder().setType(v.dtype()).build())
          .putAttr("value", AttrValue.newBuilder().setTensor(t).build()));
      return name;
    }

    /** int32 zeros [B] for the choice variable: ZerosLike of an initial state of shape [B]. */
    String zerosLikeBatch(Map<String, String> s0, List<String> carried) {
      for (String k : carried) {
        StateVar v = info.stateVars().get(k);
        if (v.shape().length != 1 || !s0.containsKey(k)) continue;
        String src = s0.get(k);
        if (v.dtype() != DataType.DT_INT32) {
          String cast = fresh("cast");
          nodes.put(cast, NodeDef.newBuilder().setName(cast).setOp("Cast").addInput(src)
              .putAttr("SrcT", AttrValue.newBuilder().setType(v.dtype()).build())
              .putAttr("DstT", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
              .putAttr("Truncate", AttrValue.newBuilder().setB(false).build()));
          src = cast;
        }
        String z = fresh("initial_choice");
        nodes.put(z, NodeDef.newBuilder().setName(z).setOp("ZerosLike").addInput(src)
            .putAttr("T", AttrValue.newBuilder().setType(DataType.DT_INT32).build()));
        return z;
      }
      throw new ConversionException("step-by-step: no initial state of shape [batch] to size the initial choice by");
    }

    /**
     * Per-hypothesis encoder lengths: RETURNN masks the attention with {@code sequence_mask(base_size,
     * max(base_size))}, so rows fed together must have the encoder states' time axis equal to their longest length
     * (a shorter axis fails; with a longest length of 1 the [B,1] mask broadcasts over every frame, padding included).
     * Each such {@code Max} over the base_size state becomes the time axis (axis 1) of a base_value state: every row
     * is then masked by its own length on any padded time axis, which for a time axis of max(base_size) is TF's own
     * computation. Only with one base_size state (one encoder time axis); returns how many were replaced.
     */
    int maskByEncoderTime() {
      List<String> sizes = new ArrayList<>(), values = new ArrayList<>();
      for (String k : info.stateVars().keySet()) {
        if (k.startsWith("base_size_")) sizes.add(k);
        if (k.startsWith("base_value_") && info.stateVars().get(k).shape().length >= 2) values.add(k);
      }
      if (sizes.size() != 1 || values.isEmpty()) return 0;
      String value = null; // a rewritten read of a base_value state in this model (now an Identity of its value)
      for (Map.Entry<String, String[]> e : rewrittenReads.entrySet()) {
        if (values.contains(e.getValue()[0]) && (value == null || e.getKey().compareTo(value) < 0)) value = e.getKey();
      }
      if (value == null) return 0;
      int replaced = 0;
      for (NodeDef.Builder n : new ArrayList<>(nodes.values())) {
        if (!n.getOp().equals("Max") || n.getInputCount() != 2 || (n.containsAttr("keep_dims") && n.getAttrOrThrow("keep_dims").getB())) continue;
        String x = base(n.getInput(0));
        while (nodes.containsKey(x) && !rewrittenReads.containsKey(x)
            && List.of("Identity", "Reshape", "Tile", "ExpandDims", "Squeeze").contains(node(x).getOp())) {
          x = base(node(x).getInput(0));
        }
        String[] read = rewrittenReads.get(x);
        if (read == null || !read[0].equals(sizes.get(0))) continue;
        DataType t = n.getAttrOrThrow("T").getType();
        String shape = fresh("encoder_time/shape"), dim = fresh("encoder_time/dim");
        nodes.put(shape, NodeDef.newBuilder().setName(shape).setOp("Shape").addInput(value)
            .putAttr("T", AttrValue.newBuilder().setType(info.stateVars().get(rewrittenReads.get(value)[0]).dtype()).build())
            .putAttr("out_type", AttrValue.newBuilder().setType(t).build()));
        String b = fresh("encoder_time/begin"), e = fresh("encoder_time/end"), st = fresh("encoder_time/stride");
        nodes.put(b, intConst(b, 1));
        nodes.put(e, intConst(e, 2));
        nodes.put(st, intConst(st, 1));
        nodes.put(dim, NodeDef.newBuilder().setName(dim).setOp("StridedSlice").addInput(shape).addInput(b).addInput(e).addInput(st)
            .putAttr("T", AttrValue.newBuilder().setType(t).build())
            .putAttr("Index", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
            .putAttr("begin_mask", AttrValue.newBuilder().setI(0).build()).putAttr("end_mask", AttrValue.newBuilder().setI(0).build())
            .putAttr("ellipsis_mask", AttrValue.newBuilder().setI(0).build()).putAttr("new_axis_mask", AttrValue.newBuilder().setI(0).build())
            .putAttr("shrink_axis_mask", AttrValue.newBuilder().setI(1).build()));
        n.clearInput().addInput(dim).clearAttr().putAttr("T", AttrValue.newBuilder().setType(t).build()).setOp("Identity");
        replaced++;
      }
      return replaced;
    }

    private static NodeDef.Builder intConst(String name, int v) {
      TensorProto.Builder t = TensorProto.newBuilder().setDtype(DataType.DT_INT32)
          .setTensorShape(TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dim.newBuilder().setSize(1))).addIntVal(v);
      return NodeDef.newBuilder().setName(name).setOp("Const").putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
          .putAttr("value", AttrValue.newBuilder().setTensor(t).build());
    }

    /** The rewritten graph with an Identity per output (name → value, of the state {@code keys.get(name)}'s dtype). */
    GraphDef withOutputs(Map<String, String> outputs, Map<String, String> keys) {
      maskByEncoderTime();
      Map<String, String[]> ids = new LinkedHashMap<>();
      for (Map.Entry<String, String> e : outputs.entrySet()) {
        if (e.getValue() == null) throw new ConversionException("step-by-step: no value for output '" + e.getKey() + "'");
        if (nodes.containsKey(e.getKey())) throw new ConversionException("step-by-step: the output name '" + e.getKey() + "' is taken by a graph node");
        DataType t = info.stateVars().get(keys.get(e.getKey())).dtype();
        String src = t == interfaceType(t) ? e.getValue() : cast(e.getValue(), t, interfaceType(t));
        ids.put(e.getKey(), new String[] {src, Integer.toString(interfaceType(t).getNumber())});
      }
      GraphDef.Builder g = GraphDef.newBuilder();
      for (NodeDef.Builder n : nodes.values()) g.addNode(n.build());
      ids.forEach((name, v) -> g.addNode(NodeDef.newBuilder().setName(name).setOp("Identity").addInput(v[0])
          .putAttr("T", AttrValue.newBuilder().setType(DataType.forNumber(Integer.parseInt(v[1]))).build())));
      return g.build();
    }

  }
}
