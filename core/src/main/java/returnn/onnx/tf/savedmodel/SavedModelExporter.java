package returnn.onnx.tf.savedmodel;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.tensorflow.proto.CollectionDef;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.OpList;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SaverDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.proto.VariableDef;
import returnn.onnx.ConversionException;
import returnn.onnx.ConvertOptions;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.tf.GraphReader;
import returnn.onnx.tf.Similarity;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.tf.TfModel;
import returnn.onnx.tf.checkpoint.CheckpointReader;
import returnn.onnx.tf.checkpoint.CheckpointWriter;

/**
 * Writes a TensorFlow SavedModel from a RETURNN graph and its V2 checkpoint, as RETURNN users' Python export
 * scripts do (import the meta graph, restore, {@code SavedModelBuilder}), in pure Java:
 *
 * <ul>
 *   <li>{@code DIR/saved_model.pb}: one MetaGraphDef tagged {@code serve} holding the graph pruned to what the
 *       outputs need, save/restore nodes with their SaverDef, the {@code variables} / {@code trainable_variables}
 *       collections, the stripped op list (the source's, so custom OpDefs such as NativeLstm2 are kept) and the
 *       {@code serving_default} signature ({@code tensorflow/serving/predict}). Its inputs are the placeholders the
 *       outputs read through data edges; its outputs the requested tensors. Signature keys are the TF tensor names
 *       with {@code :0} dropped ({@code :N} kept), never mangled; TensorInfo names are {@code name:N}.
 *   <li>{@code DIR/variables/variables.{index,data-00000-of-00001}}: exactly the variables the outputs need
 *       ({@code VarHandleOp}, {@code VariableV2}), read from the checkpoint and written by {@link CheckpointWriter}.
 * </ul>
 *
 * The source's own saver is kept when it restores exactly those variables; otherwise TF1-Saver-style nodes are
 * built under a fresh {@code save} scope ({@link SaverBuilder}). Everything is built into a temporary sibling
 * directory and moved into place at the end, so a failure writes nothing; an existing non-empty {@code DIR} is
 * refused.
 *
 * <pre>{@code
 * SavedModelExporter.Result r = SavedModelExporter.export(new SavedModelExporter.Options(
 *     Path.of("graph.meta"), Path.of("net-model/network.030"), List.of(), Path.of("saved_model")));
 * }</pre>
 */
public final class SavedModelExporter {
  public static final String SERVE_TAG = "serve";
  public static final String SERVING_DEFAULT = "serving_default";
  public static final String PREDICT_METHOD = "tensorflow/serving/predict";


  private SavedModelExporter() {}

  /**
   * @param graph graph file ({@code .meta}, {@code .metatxt}, {@code .pb}, {@code .pbtxt}) or SavedModel directory
   * @param checkpoint V2 checkpoint prefix; null for a SavedModel's own or a graph without variables
   * @param outputs TF tensor names; empty: {@code output/output_batch_major} (a SavedModel: its signature outputs)
   * @param output the SavedModel directory to create (must not exist, or be empty)
   */
  public record Options(Path graph, Path checkpoint, List<String> outputs, Path output) {
    public Options {
      if (graph == null) throw new IllegalArgumentException("no graph given");
      if (output == null) throw new IllegalArgumentException("no output directory given");
      outputs = outputs == null ? List.of() : List.copyOf(outputs);
    }
  }

  /**
   * What was written.
   *
   * @param inputs signature input key → TensorInfo
   * @param outputs signature output key → TensorInfo
   * @param variables checkpoint keys written to {@code variables/variables}, sorted
   * @param saverScope scope of the save/restore nodes (null without variables)
   * @param saverKept whether the source graph's own saver nodes were kept
   * @param customOps RETURNN custom op type → node names using it (need RETURNN's op library in TF)
   * @param warnings messages for the user (custom ops, unknown output dtypes)
   */
  public record Result(
      Path dir,
      SavedModel savedModel,
      Map<String, TensorInfo> inputs,
      Map<String, TensorInfo> outputs,
      List<String> variables,
      String saverScope,
      boolean saverKept,
      Map<String, List<String>> customOps,
      List<String> warnings) {}

  /** Builds the SavedModel and writes it to {@code o.output()}; see the class comment. */
  public static Result export(Options o) {
    checkTarget(o.output());
    TfModel model = GraphReader.read(o.graph());
    Path ckptPath = o.checkpoint() != null ? o.checkpoint() : model.variablesPrefix();
    Plan plan = new Plan(model, o.outputs());
    if (plan.variables.isEmpty()) {
      Built b = build(model, plan, Map.of());
      write(o.output(), b.savedModel, Map.of());
      return b.result(o.output());
    }
    if (ckptPath == null) {
      NodeDef v = plan.variables.get(0);
      throw ConversionException.atNode(v.getName(), v.getOp(), "the outputs read variable '" + v.getName()
          + "' (and " + (plan.variables.size() - 1) + " more) but no checkpoint was given (--checkpoint)");
    }
    try (CheckpointReader reader = CheckpointReader.open(ckptPath)) {
      Map<String, Tensor> values = readVariables(plan.variables, reader);
      Built b = build(model, plan, values);
      write(o.output(), b.savedModel, values);
      return b.result(o.output());
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // What the outputs need.

  /** The resolved outputs and the nodes, placeholders and variables they need. */
  private static final class Plan {
    final TfModel model;
    final Map<String, NodeDef> byName = new LinkedHashMap<>();
    final Map<String, OpDef> opDefs = new HashMap<>();
    /** Output tensors, deduplicated, in the requested order. */
    final List<TensorRef> outputs = new ArrayList<>();
    /** Nodes reachable from the outputs through data and control edges (what TF runs). */
    final Set<String> needed;
    /** Placeholders the outputs read through data edges: the signature inputs. */
    final List<NodeDef> placeholders = new ArrayList<>();
    /** Variable nodes TF runs for the outputs, in graph order. */
    final List<NodeDef> variables = new ArrayList<>();

    Plan(TfModel model, List<String> requested) {
      this.model = model;
      for (NodeDef n : model.graph().getNodeList()) {
        if (byName.put(n.getName(), n) != null) {
          throw ConversionException.atFile(model.source(), "duplicate node name '" + n.getName() + "'");
        }
      }
      for (OpDef d : model.strippedOps().getOpList()) opDefs.put(d.getName(), d);
      List<String> names = requested.isEmpty() ? defaultOutputs(model) : requested;
      Set<TensorRef> seen = new HashSet<>();
      for (String name : names) {
        TensorRef r = resolveOutput(name);
        if (seen.add(r)) outputs.add(r);
      }
      List<String> roots = outputs.stream().map(TensorRef::node).toList();
      Set<String> data = closure(roots, false);
      needed = closure(roots, true);
      for (NodeDef n : model.graph().getNodeList()) {
        if (n.getOp().equals("Placeholder") && data.contains(n.getName())) placeholders.add(n);
        if (Nodes.VARIABLE_OPS.contains(n.getOp()) && needed.contains(n.getName())) variables.add(n);
      }
    }

    private TensorRef resolveOutput(String name) {
      String tensor = model.signatureOutputs().getOrDefault(name, name);
      TensorRef r = TensorRef.parse(tensor);
      NodeDef n = byName.get(r.node());
      if (n == null) {
        throw new ConversionException(model.source() + ": unknown output '" + name + "'" + suggest(r.node()));
      }
      int count = TensorTypes.outputCount(n, opDefs.get(n.getOp()));
      if (count >= 0 && r.index() >= count) {
        throw ConversionException.atNode(n.getName(), n.getOp(), "unknown output '" + name + "': the node has "
            + count + " output" + (count == 1 ? "" : "s") + " (in " + model.source() + ")");
      }
      return r;
    }

    private String suggest(String missing) {
      List<String> best = Similarity.closest(missing, byName.keySet(), 3);
      return best.isEmpty() ? "" : " (did you mean: " + String.join(", ", best) + "?)";
    }

    /** Nodes reachable from {@code roots} through data edges, and control edges if {@code control}. */
    Set<String> closure(Collection<String> roots, boolean control) {
      Set<String> keep = new LinkedHashSet<>();
      Deque<String> todo = new ArrayDeque<>(roots);
      while (!todo.isEmpty()) {
        String name = todo.poll();
        if (!keep.add(name)) continue;
        NodeDef n = byName.get(name);
        for (String in : n.getInputList()) {
          if (in.startsWith("^") && !control) continue;
          String src = Nodes.inputNode(in);
          if (!byName.containsKey(src)) {
            throw ConversionException.atNode(name, n.getOp(), "input '" + in + "' names no node of " + model.source());
          }
          todo.add(src);
        }
      }
      return keep;
    }
  }

  /** As {@code convert}: a SavedModel's signature outputs, else RETURNN's {@code output/output_batch_major}. */
  static List<String> defaultOutputs(TfModel model) {
    if (!model.signatureOutputs().isEmpty()) return new ArrayList<>(model.signatureOutputs().keySet());
    boolean has = model.graph().getNodeList().stream().anyMatch(n -> n.getName().equals(ConvertOptions.DEFAULT_OUTPUT));
    if (has) return List.of(ConvertOptions.DEFAULT_OUTPUT);
    List<String> candidates = model.graph().getNodeList().stream().map(NodeDef::getName)
        .filter(n -> n.endsWith("/output_batch_major")).sorted().toList();
    throw new ConversionException(model.source() + ": no '" + ConvertOptions.DEFAULT_OUTPUT
        + "' in the graph; name the outputs with --outputs"
        + (candidates.isEmpty() ? "" : " (candidates: " + String.join(", ", candidates) + ")"));
  }

  /** The checkpoint values of the variables, keyed by variable node name; all problems reported at once. */
  private static Map<String, Tensor> readVariables(List<NodeDef> vars, CheckpointReader reader) {
    Map<String, Tensor> values = new TreeMap<>();
    List<String> problems = new ArrayList<>();
    for (NodeDef n : vars) {
      String where = "node '" + n.getName() + "' (" + n.getOp() + ")";
      String key = n.getName();
      if (!reader.contains(key) && n.containsAttr("shared_name") && !n.getAttrOrThrow("shared_name").getS().isEmpty()) {
        String shared = n.getAttrOrThrow("shared_name").getS().toStringUtf8();
        if (reader.contains(shared)) key = shared;
      }
      if (!reader.contains(key)) {
        problems.add(where + ": variable '" + key + "' is missing from checkpoint " + reader.prefix() + closest(key, reader));
        continue;
      }
      CheckpointReader.Entry e = reader.entry(key);
      if (!n.containsAttr("dtype")) {
        problems.add(where + ": variable has no dtype attr");
        continue;
      }
      int code = n.getAttrOrThrow("dtype").getTypeValue();
      DType want = DType.fromTfOrNull(code > 100 ? code - 100 : code);
      if (want != e.dtype()) {
        problems.add(where + ": variable '" + key + "' is " + (want == null ? "dtype " + code : want.lower())
            + " in the graph but " + e.dtype().lower() + " in checkpoint " + reader.prefix());
        continue;
      }
      if (n.containsAttr("shape") && !compatible(n.getAttrOrThrow("shape").getShape(), e.shape())) {
        problems.add(where + ": variable '" + key + "' has shape " + shapeString(n.getAttrOrThrow("shape").getShape())
            + " in the graph but " + Arrays.toString(e.shape()) + " in checkpoint " + reader.prefix());
        continue;
      }
      values.put(n.getName(), reader.tensor(key));
    }
    if (!problems.isEmpty()) {
      throw new ConversionException(problems.size() == 1 ? problems.get(0)
          : problems.size() + " variable problems:\n  " + String.join("\n  ", problems));
    }
    return values;
  }

  private static String closest(String key, CheckpointReader reader) {
    List<String> names = reader.entries().stream().map(CheckpointReader.Entry::name).toList();
    if (names.isEmpty()) return " (the checkpoint is empty)";
    return " (closest: " + String.join(", ", Similarity.closest(key, names, 3)) + ")";
  }

  private static boolean compatible(TensorShapeProto s, long[] actual) {
    if (s.getUnknownRank()) return true;
    if (s.getDimCount() != actual.length) return false;
    for (int i = 0; i < actual.length; i++) {
      long d = s.getDim(i).getSize();
      if (d >= 0 && d != actual[i]) return false;
    }
    return true;
  }

  private static String shapeString(TensorShapeProto s) {
    if (s.getUnknownRank()) return "<unknown rank>";
    return Arrays.toString(s.getDimList().stream().mapToLong(TensorShapeProto.Dim::getSize).toArray());
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Building the MetaGraphDef.

  private record Built(SavedModel savedModel, Map<String, TensorInfo> inputs, Map<String, TensorInfo> outputs,
      List<String> variables, String saverScope, boolean saverKept, Map<String, List<String>> customOps,
      List<String> warnings) {
    Result result(Path dir) {
      return new Result(dir, savedModel, inputs, outputs, variables, saverScope, saverKept, customOps, warnings);
    }
  }

  /** The nodes TF Python needs to rebuild a Variable from its VariableDef: initializer, snapshot, initial value. */
  private record VarNodes(NodeDef variable, String initializer, String snapshot, String initialValue) {}

  private static Built build(TfModel model, Plan plan, Map<String, Tensor> values) {
    Map<String, NodeDef> byName = plan.byName;
    Set<String> keep = new LinkedHashSet<>(plan.needed);
    List<String> warnings = new ArrayList<>();

    // The source saver is kept if it saves and restores exactly the variables the outputs need.
    Set<String> sourceSaver = reusableSaver(model, plan);
    if (sourceSaver != null) keep.addAll(sourceSaver);

    // Variable initializers and snapshots (VariableDef references them), existing ones kept with their inputs.
    Map<String, String[]> existing = new LinkedHashMap<>();
    for (NodeDef v : plan.variables) {
      String init = findInitializer(v, byName);
      String snap = findSnapshot(v, byName);
      existing.put(v.getName(), new String[] {init, snap});
      List<String> roots = new ArrayList<>();
      if (init != null) roots.add(init);
      if (snap != null) roots.add(snap);
      keep.addAll(plan.closure(roots, true));
    }

    GraphDef.Builder g = model.graph().toBuilder().clearNode();
    for (NodeDef n : model.graph().getNodeList()) if (keep.contains(n.getName())) g.addNode(n);
    Nodes.Names names = new Nodes.Names(keep);

    List<VarNodes> varNodes = new ArrayList<>();
    for (NodeDef v : plan.variables) {
      String[] e = existing.get(v.getName());
      String init = e[0];
      String initialValue;
      if (init == null) {
        DataType dtype = baseType(v.getAttrOrThrow("dtype").getType());
        long[] shape = values.get(v.getName()).shape();
        String zeros = names.unique(v.getName() + "/Initializer/zeros");
        g.addNode(Nodes.zerosConst(zeros, dtype, shape));
        init = names.unique(v.getName() + "/Assign");
        g.addNode(assign(v, init, zeros, dtype));
        initialValue = zeros + ":0";
      } else {
        NodeDef a = byName.get(init);
        initialValue = a.getInputCount() > 1 ? tensorName(a.getInput(1)) : "";
      }
      String snap = e[1];
      if (snap == null) {
        DataType dtype = baseType(v.getAttrOrThrow("dtype").getType());
        if (v.getOp().equals("VarHandleOp")) {
          snap = names.unique(v.getName() + "/Read/ReadVariableOp");
          g.addNode(NodeDef.newBuilder().setName(snap).setOp("ReadVariableOp").addInput(v.getName())
              .putAttr("dtype", Nodes.type(dtype)));
        } else {
          snap = names.unique(v.getName() + "/read");
          g.addNode(NodeDef.newBuilder().setName(snap).setOp("Identity").addInput(v.getName())
              .putAttr("T", Nodes.type(dtype)).putAttr("_class", Nodes.colocation(v.getName())));
        }
      }
      varNodes.add(new VarNodes(v, init, snap, initialValue));
    }

    SaverDef saverDef = null;
    String saverScope = null;
    if (sourceSaver != null) {
      saverDef = model.saverDef();
      saverScope = scopeOf(Nodes.inputNode(saverDef.getRestoreOpName()));
    } else if (!plan.variables.isEmpty()) {
      List<SaverBuilder.Var> vars = plan.variables.stream().map(v -> new SaverBuilder.Var(v, v.getName())).toList();
      SaverBuilder.Built saver = SaverBuilder.build(vars, names);
      g.addAllNode(saver.nodes());
      saverDef = saver.saverDef();
      saverScope = saver.scope();
    }
    GraphDef graph = g.build();

    MetaGraphDef.Builder m = MetaGraphDef.newBuilder().setGraphDef(graph);
    m.getMetaInfoDefBuilder().addTags(SERVE_TAG).setStrippedOpList(strippedOpList(graph, plan.opDefs));
    if (saverDef != null) m.setSaverDef(saverDef);
    if (!varNodes.isEmpty()) {
      CollectionDef.BytesList.Builder all = CollectionDef.BytesList.newBuilder();
      CollectionDef.BytesList.Builder trainable = CollectionDef.BytesList.newBuilder();
      for (VarNodes v : varNodes) {
        VariableDef d = variableDef(v);
        all.addValue(d.toByteString());
        if (d.getTrainable()) trainable.addValue(d.toByteString());
      }
      m.putCollectionDef("variables", CollectionDef.newBuilder().setBytesList(all).build());
      m.putCollectionDef("trainable_variables", CollectionDef.newBuilder().setBytesList(trainable).build());
    }

    Map<String, TensorInfo> inputs = new LinkedHashMap<>();
    Map<String, TensorInfo> outputs = new LinkedHashMap<>();
    for (NodeDef p : plan.placeholders) inputs.put(p.getName(), tensorInfo(p, 0, plan.opDefs));
    for (TensorRef r : plan.outputs) {
      TensorInfo info = tensorInfo(byName.get(r.node()), r.index(), plan.opDefs);
      if (info.getDtype() == DataType.DT_INVALID) {
        warnings.add("could not determine the dtype of output '" + r.onnxName() + "' (op "
            + byName.get(r.node()).getOp() + ") without its OpDef; its TensorInfo has DT_INVALID");
      }
      outputs.put(r.onnxName(), info);
    }
    m.putSignatureDef(SERVING_DEFAULT, SignatureDef.newBuilder().setMethodName(PREDICT_METHOD)
        .putAllInputs(inputs).putAllOutputs(outputs).build());

    Map<String, List<String>> custom = customOps(graph);
    if (!custom.isEmpty()) {
      List<String> parts = new ArrayList<>();
      custom.forEach((op, nodes) -> parts.add(op + " (" + (nodes.size() == 1 ? "node '" + nodes.get(0) + "'"
          : nodes.size() + " nodes, e.g. '" + nodes.get(0) + "'") + ")"));
      warnings.add(0, "the graph uses RETURNN custom ops: " + String.join(", ", parts) + ". Loading this SavedModel in "
          + "TensorFlow needs RETURNN's compiled op library (tf.load_op_library) loaded first; without it TensorFlow "
          + "fails with \"Op type not registered\".");
    }
    SavedModel sm = SavedModel.newBuilder().setSavedModelSchemaVersion(1).addMetaGraphs(m).build();
    return new Built(sm, inputs, outputs, new ArrayList<>(values.keySet()), saverScope, sourceSaver != null, custom,
        warnings);
  }

  /**
   * The source saver's nodes if it can be kept: a non-sharded SaverDef whose nodes exist, with one RestoreV2 whose
   * {@code tensor_names} are exactly the names of the variables the outputs need, and which touches no other
   * variable. Otherwise null (a new saver is built).
   */
  private static Set<String> reusableSaver(TfModel model, Plan plan) {
    SaverDef sd = model.saverDef();
    if (sd == null || sd.getSharded() || plan.variables.isEmpty()) return null;
    List<String> roots = List.of(Nodes.inputNode(sd.getFilenameTensorName()), Nodes.inputNode(sd.getSaveTensorName()),
        Nodes.inputNode(sd.getRestoreOpName()));
    for (String r : roots) if (!plan.byName.containsKey(r)) return null;
    Set<String> nodes;
    try {
      nodes = plan.closure(roots, true);
    } catch (ConversionException e) {
      return null;
    }
    Set<String> used = new HashSet<>();
    plan.variables.forEach(v -> used.add(v.getName()));
    Set<String> saverVars = new HashSet<>();
    List<NodeDef> restores = new ArrayList<>();
    for (String n : nodes) {
      NodeDef d = plan.byName.get(n);
      if (Nodes.VARIABLE_OPS.contains(d.getOp())) saverVars.add(n);
      if (d.getOp().equals("RestoreV2")) restores.add(d);
    }
    if (!saverVars.equals(used) || restores.size() != 1 || restores.get(0).getInputCount() < 2) return null;
    NodeDef names = plan.byName.get(Nodes.inputNode(restores.get(0).getInput(1)));
    if (names == null || !names.getOp().equals("Const")) return null;
    List<String> keys = names.getAttrOrThrow("value").getTensor().getStringValList().stream()
        .map(b -> b.toStringUtf8()).toList();
    if (keys.size() != used.size() || !new HashSet<>(keys).equals(used)) return null;
    return nodes;
  }

  private static String findInitializer(NodeDef v, Map<String, NodeDef> byName) {
    NodeDef a = byName.get(v.getName() + "/Assign");
    boolean ok = a != null && (a.getOp().equals("Assign") || a.getOp().equals("AssignVariableOp"))
        && a.getInputCount() >= 2 && Nodes.inputNode(a.getInput(0)).equals(v.getName());
    return ok ? a.getName() : null;
  }

  private static String findSnapshot(NodeDef v, Map<String, NodeDef> byName) {
    boolean resource = v.getOp().equals("VarHandleOp");
    NodeDef s = byName.get(v.getName() + (resource ? "/Read/ReadVariableOp" : "/read"));
    boolean ok = s != null && s.getOp().equals(resource ? "ReadVariableOp" : "Identity") && s.getInputCount() >= 1
        && s.getInput(0).equals(v.getName());
    return ok ? s.getName() : null;
  }

  private static NodeDef assign(NodeDef v, String name, String value, DataType dtype) {
    if (v.getOp().equals("VarHandleOp")) {
      return NodeDef.newBuilder().setName(name).setOp("AssignVariableOp").addInput(v.getName()).addInput(value)
          .putAttr("dtype", Nodes.type(dtype)).build();
    }
    return NodeDef.newBuilder().setName(name).setOp("Assign").addInput(v.getName()).addInput(value)
        .putAttr("T", Nodes.type(dtype)).putAttr("validate_shape", Nodes.bool(true))
        .putAttr("use_locking", Nodes.bool(true)).putAttr("_class", Nodes.colocation(v.getName())).build();
  }

  private static VariableDef variableDef(VarNodes v) {
    String name = v.variable().getName();
    return VariableDef.newBuilder()
        .setVariableName(name + ":0")
        .setInitializerName(v.initializer())
        .setSnapshotName(v.snapshot() + ":0")
        .setInitialValueName(v.initialValue())
        .setIsResource(v.variable().getOp().equals("VarHandleOp"))
        .setTrainable(!name.equals("global_step"))
        .build();
  }

  private static TensorInfo tensorInfo(NodeDef n, int index, Map<String, OpDef> defs) {
    return TensorInfo.newBuilder()
        .setName(n.getName() + ":" + index)
        .setDtype(TensorTypes.dtype(n, index, defs))
        .setTensorShape(TensorTypes.shape(n, index))
        .build();
  }

  /** OpDefs of the ops the graph uses: the source's (custom ops included), else the exporter's own saver ops. */
  private static OpList strippedOpList(GraphDef g, Map<String, OpDef> source) {
    Map<String, OpDef> used = new TreeMap<>();
    for (NodeDef n : g.getNodeList()) {
      OpDef d = source.get(n.getOp());
      if (d == null) d = SaverOpDefs.DEFS.get(n.getOp());
      if (d != null) used.put(d.getName(), d);
    }
    return OpList.newBuilder().addAllOp(used.values()).build();
  }

  /** Whether TF's own op registry lacks this RETURNN op (its native op library must be loaded). */
  public static boolean isReturnnCustomOp(String op) {
    return op.startsWith("Native") || op.startsWith("Lstm") || op.startsWith("GenericLstm") || op.contains("Returnn")
        || op.equals("TwoDLSTM");
  }

  private static Map<String, List<String>> customOps(GraphDef g) {
    Map<String, List<String>> m = new TreeMap<>();
    for (NodeDef n : g.getNodeList()) {
      if (isReturnnCustomOp(n.getOp())) m.computeIfAbsent(n.getOp(), k -> new ArrayList<>()).add(n.getName());
    }
    return m;
  }

  private static DataType baseType(DataType t) {
    return t.getNumber() > 100 ? DataType.forNumber(t.getNumber() - 100) : t;
  }

  private static String tensorName(String input) {
    TensorRef r = TensorRef.parse(input);
    return r.node() + ":" + r.index();
  }

  private static String scopeOf(String node) {
    int i = node.lastIndexOf('/');
    return i < 0 ? node : node.substring(0, i);
  }


  // ---------------------------------------------------------------------------------------------------------------
  // Writing.

  /** Refuses an existing file, or an existing non-empty directory. */
  private static void checkTarget(Path out) {
    if (Files.isSymbolicLink(out)) {
      throw ConversionException.atFile(out, "is a symbolic link; refusing to write through it or replace it (give the real path)");
    }
    if (!Files.exists(out)) return;
    if (!Files.isDirectory(out)) throw ConversionException.atFile(out, "exists and is not a directory; choose a new SavedModel directory");
    try (Stream<Path> s = Files.list(out)) {
      if (s.findAny().isPresent()) {
        throw ConversionException.atFile(out, "directory exists and is not empty; remove it or choose a new SavedModel directory");
      }
    } catch (IOException e) {
      throw ConversionException.atFile(out, "cannot read directory: " + e.getMessage());
    }
  }

  /** Writes into a temporary sibling directory and moves it into place; on failure nothing is left behind. */
  private static void write(Path out, SavedModel sm, Map<String, Tensor> values) {
    Path abs = out.toAbsolutePath().normalize();
    Path parent = abs.getParent();
    Path tmp = null;
    // Parent directories this call creates are removed again on failure.
    Path created = null;
    for (Path p = parent; p != null && !Files.exists(p); p = p.getParent()) created = p;
    try {
      Files.createDirectories(parent);
      // .returnn-onnx-PID-*.tmp: deleted on SIGTERM/SIGINT, and by the next run when this process died (TempFiles).
      tmp = returnn.onnx.TempFiles.createDirectory(parent);
      Path pb = Files.write(tmp.resolve("saved_model.pb"), sm.toByteArray());
      returnn.onnx.TempFiles.sync(pb);
      Path vars = Files.createDirectory(tmp.resolve("variables"));
      if (!values.isEmpty()) CheckpointWriter.write(vars.resolve("variables"), values);
      checkTarget(abs);
      if (Files.isDirectory(abs)) Files.delete(abs);
      Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
      returnn.onnx.TempFiles.committed(tmp);
      tmp = null;
      created = null;
    } catch (IOException e) {
      throw ConversionException.atFile(out, "cannot write SavedModel: " + e);
    } finally {
      if (tmp != null) returnn.onnx.TempFiles.discard(tmp);
      if (created != null) deleteRecursively(created);
    }
  }

  private static void deleteRecursively(Path p) {
    try {
      if (Files.isDirectory(p)) {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(p)) {
          for (Path c : s) deleteRecursively(c);
        }
      }
      Files.deleteIfExists(p);
    } catch (IOException ignored) {
      // Best effort: the temporary directory is hidden and named as such.
    }
  }
}
