package returnn.onnx.tf;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Imports a TF GraphDef into the IR as "tf" dialect nodes, pruned to what the requested outputs need. Placeholders
 * become graph inputs, {@code Const} nodes and variables (both kinds) become constants; variable values come lazily
 * from the checkpoint, so nothing is read until written.
 */
public final class TfImporter {
  /** Op types whose output is a variable: TF2 resource variables and TF1 reference variables. */
  private static final Set<String> VARIABLE_OPS = Set.of("VarHandleOp", "VariableV2", "Variable");

  private final TfModel model;
  private final VariableStore variables;
  private final Map<String, long[]> inputShapes;
  private final Map<String, NodeDef> byName = new LinkedHashMap<>();
  private final Graph graph;
  private final Map<String, Node> imported = new HashMap<>();
  private final Map<String, Value> replaced = new HashMap<>();
  private final List<String> variableProblems = new ArrayList<>();
  /** Switches standing for a cond branch's control edge on a Const: (switch, predicate), wired after the nodes. */
  private final List<Map.Entry<Node, TensorRef>> branchSwitches = new ArrayList<>();
  /** {@code --inputs} naming a tensor that is not a placeholder: the graph is cut there (tensor → its shape). */
  private final Map<TensorRef, long[]> cuts = new LinkedHashMap<>();
  /** {@code --inputs} naming a placeholder ({@code x} or {@code x:0}), by node name. */
  private final Map<String, long[]> placeholderShapes = new HashMap<>();
  /** The cut tensors some output needs, as graph inputs. */
  private final Map<TensorRef, Value> cutInputs = new HashMap<>();

  private TfImporter(TfModel model, VariableStore variables, Map<String, long[]> inputShapes) {
    this.model = model;
    this.variables = variables;
    this.inputShapes = inputShapes;
    this.graph = new Graph("main");
  }

  /**
   * @param outputs TF tensor names to keep as graph outputs ({@code name}, {@code name:0}, {@code name:1})
   * @param inputShapes optional overrides of placeholder shapes by TF node name (-1 = dynamic)
   */
  public static Imported importGraph(TfModel model, VariableStore variables, List<String> outputs, Map<String, long[]> inputShapes) {
    TfImporter imp = new TfImporter(model, variables, inputShapes);
    Graph g = imp.run(outputs);
    return new Imported(g, imp.histogram, List.copyOf(imp.unusedCuts));
  }

  /**
   * The imported graph, the op histogram of the TF nodes the outputs need, and the {@code --inputs} tensors (not
   * placeholders) the outputs do not need, which cut nothing.
   */
  public record Imported(Graph graph, Map<String, Integer> tfHistogram, List<String> unusedCuts) {}

  private final List<String> unusedCuts = new ArrayList<>();

  private final Map<String, Integer> histogram = new java.util.TreeMap<>();
  /** The GraphDef's functions, instantiated for each call (control flow v2, tf.function). */
  private FunctionLibrary library;

  private Graph run(List<String> outputs) {
    GraphDef gd = model.graph();
    for (NodeDef n : gd.getNodeList()) {
      if (byName.put(n.getName(), n) != null) {
        throw ConversionException.atFile(model.source(), "duplicate node name '" + n.getName() + "'");
      }
    }
    checkInputShapes();
    library = new FunctionLibrary(gd.getLibrary(), graph, histogram);
    List<TensorRef> outs = new ArrayList<>();
    for (String o : outputs) outs.add(resolveOutput(o));
    Set<TensorRef> usedCuts = new java.util.HashSet<>();
    Set<String> keep = prune(outs, usedCuts);
    for (TensorRef c : cuts.keySet()) if (!usedCuts.contains(c)) unusedCuts.add(c.onnxName());
    for (String name : byName.keySet()) graph.reserveName(name);
    for (NodeDef n : gd.getNodeList()) {
      for (Map.Entry<TensorRef, long[]> c : cuts.entrySet()) {
        if (c.getKey().node().equals(n.getName()) && usedCuts.contains(c.getKey())) {
          cutInputs.put(c.getKey(), cutInput(n, c.getKey(), c.getValue()));
        }
      }
      if (keep.contains(n.getName())) {
        histogram.merge(n.getOp(), 1, Integer::sum);
        create(n);
      }
    }
    if (!variableProblems.isEmpty()) {
      throw new ConversionException(variableProblems.size() == 1 ? variableProblems.get(0)
          : variableProblems.size() + " variable problems:\n  " + String.join("\n  ", variableProblems));
    }
    for (NodeDef n : gd.getNodeList()) if (imported.containsKey(n.getName())) wire(n);
    for (Map.Entry<Node, TensorRef> e : branchSwitches) graph.addInputTo(e.getKey(), valueOf(e.getValue(), null));
    for (TensorRef r : outs) graph.addOutput(valueOf(r, null));
    return graph;
  }

  private TensorRef resolveOutput(String name) {
    String key = model.signatureOutputs().getOrDefault(name, name);
    TensorRef r = TensorRef.parse(key);
    if (!byName.containsKey(r.node())) {
      throw new ConversionException(model.source() + ": unknown output '" + name + "'" + suggest(r.node()));
    }
    return r;
  }

  /** " (did you mean: a, b?)" with the closest node names by edit distance. */
  String suggest(String missing) {
    List<String> best = Similarity.closest(missing, byName.keySet(), 3);
    return best.isEmpty() ? "" : " (did you mean: " + String.join(", ", best) + "?)";
  }

  /**
   * Nodes the outputs depend on through data edges (control dependencies carry no data at inference), stopping at
   * the cut tensors (collected in {@code usedCuts}): what only feeds them is left out.
   */
  private Set<String> prune(List<TensorRef> outs, Set<TensorRef> usedCuts) {
    Set<String> keep = new LinkedHashSet<>();
    Deque<String> todo = new ArrayDeque<>();
    for (TensorRef r : outs) {
      if (cuts.containsKey(r)) usedCuts.add(r);
      else todo.add(r.node());
    }
    while (!todo.isEmpty()) {
      String name = todo.poll();
      if (!keep.add(name)) continue;
      NodeDef n = byName.get(name);
      CondBranch branch = condBranch(n);
      if (branch != null) todo.add(branch.pred().node());
      for (String in : n.getInputList()) {
        if (in.startsWith("^")) continue;
        TensorRef r = TensorRef.parse(in);
        if (!byName.containsKey(r.node())) {
          throw ConversionException.atNode(name, n.getOp(), "input '" + in + "' names no node of " + model.source());
        }
        if (cuts.containsKey(r)) usedCuts.add(r);
        else todo.add(r.node());
      }
    }
    return keep;
  }

  private void create(NodeDef n) {
    String op = n.getOp();
    switch (op) {
      case "Placeholder" -> replaced.put(n.getName(), placeholder(n));
      case "Const" -> {
        Value c = graph.addConstant(n.getName(), TfTensors.fromProto(n.getAttrOrThrow("value").getTensor(),
            "node '" + n.getName() + "' (Const)"));
        CondBranch branch = condBranch(n);
        replaced.put(n.getName(), branch == null ? c : switched(n, c, branch));
      }
      default -> {
        if (VARIABLE_OPS.contains(op)) {
          Value v = variable(n);
          if (v != null) replaced.put(n.getName(), v);
          return;
        }
        boolean call = library.isCall(n);
        Node node = graph.addNode(Node.TF, call ? library.irOp(n) : op, n.getName(), n.getName(), List.of(), 0);
        for (Map.Entry<String, AttrValue> a : n.getAttrMap().entrySet()) {
          if (a.getKey().equals("_output_shapes") || a.getKey().equals("_class")) continue;
          node.set(a.getKey(), convertAttr(a.getValue(), n));
        }
        if (n.containsAttr("_output_shapes")) node.set("_output_shapes", convertAttr(n.getAttrOrThrow("_output_shapes"), n));
        // Control flow v2 and tf.function calls: the functions become subgraphs of the call (rewrite.functional).
        if (call) library.attachBodies(n, node, graph);
        imported.put(n.getName(), node);
      }
    }
  }

  /**
   * A Const inside a {@code tf.cond} branch: the predicate ({@code pred_id} where the conditional has one) and the
   * branch (1 true, 0 false) of its pivot.
   */
  private record CondBranch(TensorRef pred, int branch) {}

  /**
   * TF's {@code CondContext} ties a branch op without data inputs (a Const) to the branch by a control edge on the
   * branch's pivot, {@code Identity(Switch(pred, pred):k)}. Control edges carry no data here, so such a Const would
   * lose its branch, and a branch of constants only its predicate. This finds that pivot, or returns null.
   */
  private CondBranch condBranch(NodeDef n) {
    if (!n.getOp().equals("Const")) return null;
    for (String in : n.getInputList()) {
      if (!in.startsWith("^")) continue;
      NodeDef pivot = byName.get(in.substring(1));
      if (pivot == null || !pivot.getOp().equals("Identity") || pivot.getInputCount() < 1) continue;
      TensorRef sw = TensorRef.parse(pivot.getInput(0));
      NodeDef s = byName.get(sw.node());
      if (s == null || !s.getOp().equals("Switch") || s.getInputCount() < 2 || sw.index() > 1) continue;
      TensorRef data = TensorRef.parse(s.getInput(0));
      TensorRef pred = TensorRef.parse(s.getInput(1));
      if (!data.equals(pred) || !byName.containsKey(pred.node())) continue;
      // The conditional's other Switches take pred_id = Identity(pred) beside its pivot Switch: the same predicate
      // value, so the rule sees one conditional (two tf.conds on one flag have two pred_ids, and stay two Ifs).
      String scope = s.getName().contains("/") ? s.getName().substring(0, s.getName().lastIndexOf('/') + 1) : "";
      NodeDef predId = byName.get(scope + "pred_id");
      boolean isPredId = predId != null && predId.getOp().equals("Identity") && predId.getInputCount() >= 1
          && TensorRef.parse(predId.getInput(0)).equals(pred);
      return new CondBranch(isPredId ? TensorRef.parse(predId.getName()) : pred, sw.index());
    }
    return null;
  }

  /**
   * The Const as its branch sees it: output {@code k} of {@code Switch(c, pred)}, which is {@code c} when the branch
   * runs, the same tie to the predicate a captured outer value has. The conditional rule then finds the predicate of
   * a branch of constants only and makes the Switch's input an outer value of the If branch.
   */
  private Value switched(NodeDef n, Value c, CondBranch branch) {
    Node sw = graph.addNode(Node.TF, "Switch", n.getName() + "/branch", n.getName(), List.of(c), 0);
    sw.set("T", new Attr.Type(c.dtype()));
    graph.addNodeOutput(sw, sw.name());
    graph.addNodeOutput(sw, sw.name() + ":1");
    sw.output(0).setDtype(c.dtype());
    sw.output(1).setDtype(c.dtype());
    sw.output(0).setShape(c.shape());
    sw.output(1).setShape(c.shape());
    branchSwitches.add(Map.entry(sw, branch.pred()));
    return sw.output(branch.branch());
  }

  /**
   * Every {@code --inputs} override names a placeholder or a tensor, and agrees with the rank and the static dims the
   * graph declares (it may fix a dynamic dim, or make a static one dynamic with -1): a contradicting shape would give
   * a model that ONNX Runtime refuses to load, or that computes with the wrong shapes. A tensor that is not a
   * placeholder's becomes a model input: the graph is cut there, as tf2onnx's {@code --inputs} does.
   */
  private void checkInputShapes() {
    for (Map.Entry<String, long[]> e : inputShapes.entrySet()) {
      String name = e.getKey();
      TensorRef ref = TensorRef.parse(name);
      NodeDef n = byName.get(ref.node());
      if (n == null) {
        List<String> placeholders = byName.values().stream().filter(x -> x.getOp().equals("Placeholder"))
            .map(NodeDef::getName).sorted().toList();
        throw ConversionException.atFile(model.source(), "--inputs names '" + name + "', which is no node of the graph"
            + suggest(ref.node()) + " (placeholders: " + String.join(", ", placeholders) + ")");
      }
      long[] want = e.getValue();
      if (!n.getOp().startsWith("Placeholder") || ref.index() != 0) {
        int outputs = returnn.onnx.tf.savedmodel.TensorTypes.outputCount(n, opDefs().get(n.getOp()));
        if (outputs >= 0 && ref.index() >= outputs) {
          throw ConversionException.atNode(n.getName(), n.getOp(), "--inputs names output " + ref.index()
              + ", but the node has " + outputs + (outputs == 1 ? " output" : " outputs"));
        }
        cuts.put(ref, want);
        continue;
      }
      org.tensorflow.proto.TensorShapeProto declared = TfTensors.placeholderShapeProto(n, model.graph().getVersions().getProducer());
      checkAgainst(declared, want, n, "the graph's shape");
      placeholderShapes.put(n.getName(), want);
    }
  }

  /** The op definitions a MetaGraphDef carries (none for a GraphDef). */
  private Map<String, org.tensorflow.proto.OpDef> opDefs() {
    Map<String, org.tensorflow.proto.OpDef> defs = new HashMap<>();
    for (org.tensorflow.proto.OpDef d : model.strippedOps().getOpList()) defs.put(d.getName(), d);
    return defs;
  }

  private static void checkAgainst(org.tensorflow.proto.TensorShapeProto declared, long[] want, NodeDef n, String what) {
    if (declared.getUnknownRank()) return;
    long[] have = declared.getDimList().stream().mapToLong(org.tensorflow.proto.TensorShapeProto.Dim::getSize).toArray();
    boolean ok = want.length == have.length;
    for (int i = 0; ok && i < want.length; i++) ok = have[i] < 0 || want[i] < 0 || have[i] == want[i];
    if (!ok) {
      throw ConversionException.atNode(n.getName(), n.getOp(), "--inputs shape " + shapeText(want)
          + " contradicts " + what + " " + shapeText(have) + " (only dynamic dims, ?, can be fixed)");
    }
  }

  /**
   * The model input that replaces tensor {@code ref}: ONNX name = the TF tensor name without {@code :0}, the dtype
   * from the producer's OpDef or attrs, the shape as given (checked against {@code _output_shapes} where recorded).
   */
  private Value cutInput(NodeDef n, TensorRef ref, long[] dims) {
    org.tensorflow.proto.DataType t = returnn.onnx.tf.savedmodel.TensorTypes.dtype(n, ref.index(), opDefs());
    if (t == org.tensorflow.proto.DataType.DT_INVALID || t == org.tensorflow.proto.DataType.UNRECOGNIZED) {
      throw ConversionException.atNode(n.getName(), n.getOp(), "--inputs cuts the graph at '" + ref.onnxName()
          + "', but its dtype is not known (no OpDef in the graph and no type attr on the node); cut at a tensor "
          + "of a node with a T or dtype attr");
    }
    DType dt = TfTensors.dtype(t.getNumber(), "tensor '" + ref + "'");
    if (dt == DType.RESOURCE || dt == DType.STRING) {
      throw ConversionException.atNode(n.getName(), n.getOp(), "--inputs cuts the graph at '" + ref.onnxName()
          + "', a " + dt.lower() + " tensor, which cannot be a model input; cut after it");
    }
    checkAgainst(returnn.onnx.tf.savedmodel.TensorTypes.shape(n, ref.index()), dims, n, "TF's shape of " + ref.onnxName());
    return graph.addInput(ref.onnxName(), dt, InputDims.name(ref.node(), Shape.of(dims), byName.keySet()));
  }

  private static String shapeText(long[] dims) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < dims.length; i++) b.append(i > 0 ? "," : "").append(dims[i] < 0 ? "?" : Long.toString(dims[i]));
    return b.append(']').toString();
  }

  private Value placeholder(NodeDef n) {
    DType dt = TfTensors.dtype(n.getAttrOrThrow("dtype").getType().getNumber(), "node '" + n.getName() + "' (Placeholder)");
    Shape shape = TfTensors.placeholderShape(n, model.graph().getVersions().getProducer());
    long[] override = placeholderShapes.get(n.getName());
    if (override != null) shape = Shape.of(override);
    return graph.addInput(TensorRef.parse(n.getName()).onnxName(), dt, InputDims.name(n.getName(), shape, byName.keySet()));
  }

  private Value variable(NodeDef n) {
    String where = "node '" + n.getName() + "' (" + n.getOp() + ")";
    String key = n.getName();
    if (variables == null) {
      variableProblems.add(where + ": the graph reads variable '" + key + "' but no checkpoint was given (--checkpoint)");
      return null;
    }
    Tensor t = variables.variable(key);
    if (t == null && n.containsAttr("shared_name") && !n.getAttrOrThrow("shared_name").getS().isEmpty()) {
      key = n.getAttrOrThrow("shared_name").getS().toStringUtf8();
      t = variables.variable(key);
    }
    if (t == null) {
      variableProblems.add(where + ": variable '" + key + "' is missing from checkpoint " + variables.describe() + suggestVariable(key));
      return null;
    }
    DType want = n.containsAttr("dtype") ? TfTensors.dtype(n.getAttrOrThrow("dtype").getType().getNumber(), where) : t.dtype();
    if (want != t.dtype()) {
      variableProblems.add(where + ": variable '" + key + "' is " + want.lower() + " in the graph but " + t.dtype().lower()
          + " in checkpoint " + variables.describe());
      return null;
    }
    if (n.containsAttr("shape")) {
      Shape s = TfTensors.shape(n.getAttrOrThrow("shape").getShape());
      if (s.hasRank() && !compatible(s, t.shape())) {
        variableProblems.add(where + ": variable '" + key + "' has shape " + s + " in the graph but "
            + java.util.Arrays.toString(t.shape()) + " in checkpoint " + variables.describe());
        return null;
      }
    }
    return graph.addConstant(n.getName(), t);
  }

  private String suggestVariable(String key) {
    List<String> names = variables.names();
    if (names.isEmpty()) return " (the checkpoint is empty)";
    return " (closest: " + String.join(", ", Similarity.closest(key, names, 3)) + ")";
  }

  private static boolean compatible(Shape s, long[] actual) {
    if (s.rank() != actual.length) return false;
    for (int i = 0; i < actual.length; i++) if (s.dim(i).isFixed() && s.dim(i).value() != actual[i]) return false;
    return true;
  }

  private void wire(NodeDef n) {
    Node node = imported.get(n.getName());
    for (String in : n.getInputList()) {
      if (in.startsWith("^")) continue;
      graph.addInputTo(node, valueOf(TensorRef.parse(in), n));
    }
  }

  /** The IR value of a TF tensor; TF nodes grow outputs as consumers reference them. */
  private Value valueOf(TensorRef r, NodeDef consumer) {
    Value cut = cutInputs.get(r);
    if (cut != null) return cut;
    Value v = replaced.get(r.node());
    if (v != null) {
      if (r.index() != 0) {
        NodeDef src = byName.get(r.node());
        throw ConversionException.atNode(src.getName(), src.getOp(), "has no output " + r.index());
      }
      return v;
    }
    Node src = imported.get(r.node());
    if (src == null) {
      NodeDef d = byName.get(r.node());
      throw ConversionException.atNode(r.node(), d == null ? "?" : d.getOp(), "could not be imported"
          + (consumer == null ? "" : " (needed by '" + consumer.getName() + "')"));
    }
    while (src.outputs().size() <= r.index()) {
      int k = src.outputs().size();
      Value out = graph.addNodeOutput(src, k == 0 ? src.name() : src.name() + ":" + k);
      Shape hint = outputShapeHint(src, k);
      if (hint != null) out.setShape(hint);
    }
    return src.output(r.index());
  }

  private static Shape outputShapeHint(Node n, int k) {
    if (n.attr("_output_shapes") instanceof Attr.Shapes s && k < s.values().size()) return s.values().get(k);
    return null;
  }

  static Attr convertAttr(AttrValue a, NodeDef n) {
    String where = "node '" + n.getName() + "' (" + n.getOp() + ")";
    return switch (a.getValueCase()) {
      case I -> new Attr.Int(a.getI());
      case F -> new Attr.Float(a.getF());
      case B -> new Attr.Bool(a.getB());
      case S -> new Attr.Str(a.getS().toStringUtf8());
      case TYPE -> new Attr.Type(TfTensors.dtype(a.getTypeValue(), where));
      case SHAPE -> new Attr.ShapeVal(TfTensors.shape(a.getShape()));
      case TENSOR -> new Attr.TensorVal(TfTensors.fromProto(a.getTensor(), where));
      case FUNC -> new Attr.Func(a.getFunc().getName());
      case PLACEHOLDER -> new Attr.Str(a.getPlaceholder());
      case LIST -> {
        AttrValue.ListValue l = a.getList();
        if (l.getIList().size() > 0) yield new Attr.Ints(l.getIList().stream().mapToLong(Long::longValue).toArray());
        if (l.getFCount() > 0) {
          float[] f = new float[l.getFCount()];
          for (int i = 0; i < f.length; i++) f[i] = l.getF(i);
          yield new Attr.Floats(f);
        }
        if (l.getSCount() > 0) yield new Attr.Strs(l.getSList().stream().map(s -> s.toStringUtf8()).toList());
        if (l.getTypeCount() > 0) {
          List<DType> ts = new ArrayList<>();
          for (int t : l.getTypeValueList()) ts.add(TfTensors.dtype(t, where));
          yield new Attr.Types(ts);
        }
        if (l.getShapeCount() > 0) yield new Attr.Shapes(l.getShapeList().stream().map(TfTensors::shape).toList());
        if (l.getBCount() > 0) {
          long[] b = new long[l.getBCount()];
          for (int i = 0; i < b.length; i++) b[i] = l.getB(i) ? 1 : 0;
          yield new Attr.Ints(b);
        }
        yield new Attr.Ints(new long[0]);
      }
      case VALUE_NOT_SET -> new Attr.Str("");
    };
  }

  /** Dimension names for graph inputs: "batch", and time named after RETURNN's length placeholder. */
  static final class InputDims {
    private InputDims() {}

    static Shape name(String placeholder, Shape shape, Set<String> allNodes) {
      if (!shape.hasRank() || shape.rank() == 0) return shape;
      List<Dim> dims = new ArrayList<>(shape.dims());
      if (!dims.get(0).isFixed()) dims.set(0, Dim.sym("batch"));
      // extern_data/placeholders/K/K has its dynamic axis i described by extern_data/placeholders/K/K_dim{i}_size.
      for (int i = 1; i < dims.size(); i++) {
        String sizeName = placeholder + "_dim" + (i - 1) + "_size";
        if (!dims.get(i).isFixed() && allNodes.contains(sizeName)) {
          dims.set(i, Dim.sym(sizeName.substring(sizeName.lastIndexOf('/') + 1)));
        }
      }
      return Shape.of(dims);
    }
  }
}
