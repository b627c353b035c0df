package returnn.onnx.reference;

import com.google.protobuf.ByteString;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.TensorFlow;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.SaverDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.types.TString;
import returnn.onnx.ir.Tensor;

/**
 * Runs a TF graph with TensorFlow itself (TF Java): the reference every conversion is compared against.
 *
 * <p>Weights are restored by TensorFlow's own checkpoint code ({@code RestoreV2} + assign ops added to a
 * copy of the graph), never by our Java checkpoint reader, so the reference does not share its bugs.
 *
 * <pre>{@code
 * Map<String, Tensor> out = TfReference.run(graphDef, Path.of("net-model/network.030"),
 *     Map.of("extern_data/placeholders/data/data:0", x,
 *            "extern_data/placeholders/data/data_dim0_size:0", lens),
 *     List.of("output/output_batch_major:0"));
 * }</pre>
 *
 * For many runs on one graph, {@link #open} once and call {@link #run(Map, List)} repeatedly.
 */
public final class TfReference implements AutoCloseable {
  /** Scope of the nodes added to restore variables; made unique against the graph's own names. */
  static final String RESTORE_SCOPE = "returnn_onnx_restore";

  private static volatile Set<String> registeredOps;

  private final Graph graph;
  private final Session session;
  private boolean closed;

  private TfReference(Graph graph, Session session) {
    this.graph = graph;
    this.session = session;
  }

  /**
   * One-shot: import what the fetches need, restore (if {@code checkpointPrefix} is not null) the variables they
   * need given the feeds, run, close. A fed tensor may be any tensor (TF skips what only computes it): a graph cut
   * there (convert's {@code --inputs} on a non-placeholder) runs without its front end's variables or inputs.
   */
  public static Map<String, Tensor> run(
      GraphDef graph, Path checkpointPrefix, Map<String, Tensor> feeds, List<String> fetches) {
    Set<String> nodes = new java.util.HashSet<>();
    graph.getNodeList().forEach(n -> nodes.add(n.getName()));
    for (String f : feeds.keySet()) requireNode(nodes, f, "feed");
    for (String f : fetches) requireNode(nodes, f, "fetch");
    if (fetches.isEmpty()) throw new IllegalArgumentException("nothing to fetch");
    List<String> fedOrFetched = new ArrayList<>(fetches);
    fedOrFetched.addAll(feeds.keySet()); // a feed the fetches do not need is still a tensor TF can be fed
    GraphDef pruned = subgraph(graph, reach(graph, fedOrFetched, Set.of()));
    Set<String> run = reach(graph, fetches, feeds.keySet());
    List<NodeDef> vars = variables(pruned).stream().filter(v -> run.contains(v.getName())).toList();
    try (TfReference ref = open(pruned, checkpointPrefix, null, vars)) {
      return ref.run(feeds, fetches);
    }
  }

  /** Before pruning: a name of no node is an error, as after import (and TF crashes on importing no nodes). */
  private static void requireNode(Set<String> nodes, String name, String what) {
    TensorName n = TensorName.parse(name);
    if (!nodes.contains(n.op())) throw new IllegalArgumentException("unknown " + what + " '" + name + "': no node '" + n.op() + "'");
  }

  /**
   * Names of the nodes {@code fetches} reach through data and control inputs, not looking behind the fed tensors
   * (what TF runs). Names of no node are skipped: {@link #run(Map, List)} reports them.
   */
  static Set<String> reach(GraphDef g, List<String> fetches, Set<String> feeds) {
    Map<String, NodeDef> byName = new LinkedHashMap<>();
    for (NodeDef n : g.getNodeList()) byName.put(n.getName(), n);
    Set<TensorName> fed = new java.util.HashSet<>();
    for (String f : feeds) fed.add(TensorName.parse(f));
    Set<String> keep = new java.util.HashSet<>();
    java.util.ArrayDeque<String> todo = new java.util.ArrayDeque<>();
    for (String f : fetches) {
      TensorName t = TensorName.parse(f);
      if (fed.contains(t)) keep.add(t.op()); // a fed fetch is the feed, but its node must exist
      else todo.add(t.op());
    }
    while (!todo.isEmpty()) {
      String name = todo.poll();
      NodeDef n = byName.get(name);
      if (n == null || !keep.add(name)) continue;
      for (String in : n.getInputList()) {
        if (in.startsWith("^")) todo.add(in.substring(1));
        else if (!fed.contains(TensorName.parse(in))) todo.add(TensorName.parse(in).op());
      }
    }
    return keep;
  }

  /**
   * The graph with only the nodes in {@code keep} (in their order); library and versions kept. Colocation with a
   * dropped node ({@code _class: loc:@name}) is dropped too, since TF refuses to import it.
   */
  static GraphDef subgraph(GraphDef g, Set<String> keep) {
    GraphDef.Builder b = g.toBuilder().clearNode();
    for (NodeDef n : g.getNodeList()) {
      if (!keep.contains(n.getName())) continue;
      if (!n.containsAttr("_class")) {
        b.addNode(n);
        continue;
      }
      AttrValue.ListValue.Builder locs = AttrValue.ListValue.newBuilder();
      for (ByteString c : n.getAttrOrThrow("_class").getList().getSList()) {
        String loc = c.toStringUtf8();
        if (!loc.startsWith("loc:@") || keep.contains(loc.substring(5))) locs.addS(c);
      }
      NodeDef.Builder nb = n.toBuilder();
      if (locs.getSCount() == 0) nb.removeAttr("_class");
      else nb.putAttr("_class", AttrValue.newBuilder().setList(locs).build());
      b.addNode(nb);
    }
    return b.build();
  }

  /** Imports the graph and restores every variable ({@code VarHandleOp}, {@code VariableV2}) from the checkpoint. */
  public static TfReference open(GraphDef graphDef, Path checkpointPrefix) {
    return open(graphDef, checkpointPrefix, null);
  }

  /** As {@link #open(GraphDef, Path)}, with session options (e.g. one thread, for benchmarks); null: TF's defaults. */
  public static TfReference open(GraphDef graphDef, Path checkpointPrefix, org.tensorflow.proto.ConfigProto config) {
    return open(graphDef, checkpointPrefix, config, variables(graphDef));
  }

  /**
   * As {@link #open(GraphDef, Path, org.tensorflow.proto.ConfigProto)}, restoring only the variables {@code restore}
   * accepts (e.g. not RETURNN's step-by-step {@code IO/} state variables, which no checkpoint holds).
   */
  public static TfReference open(GraphDef graphDef, Path checkpointPrefix, org.tensorflow.proto.ConfigProto config,
      java.util.function.Predicate<NodeDef> restore) {
    List<NodeDef> vars = new ArrayList<>(variables(graphDef));
    vars.removeIf(restore.negate());
    return open(graphDef, checkpointPrefix, config, vars);
  }

  /** As {@link #open(GraphDef, Path, org.tensorflow.proto.ConfigProto)}, restoring only {@code vars}. */
  private static TfReference open(GraphDef graphDef, Path checkpointPrefix, org.tensorflow.proto.ConfigProto config,
      List<NodeDef> vars) {
    requireKnownOps(graphDef);
    GraphDef toImport = graphDef;
    List<String> assigns = List.of();
    if (checkpointPrefix != null && !vars.isEmpty()) {
      String scope = uniqueScope(graphDef);
      GraphDef.Builder b = graphDef.toBuilder();
      assigns = addRestoreNodes(b, scope, vars, checkpointPrefix.toString());
      toImport = b.build();
    }
    TfReference ref = importGraph(toImport, config);
    try {
      if (!assigns.isEmpty()) {
        Session.Runner r = ref.session.runner();
        for (String a : assigns) r.addTarget(a);
        r.run().close();
      }
      return ref;
    } catch (RuntimeException e) {
      ref.close();
      throw new IllegalStateException("restoring variables from " + checkpointPrefix + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * Imports a graph that carries TF1 Saver nodes (a {@code .meta}) and restores through the graph's own
   * saver: feeds the prefix into {@code saver.filename_tensor_name} and runs {@code saver.restore_op_name}.
   */
  public static TfReference openWithSaver(GraphDef graphDef, SaverDef saver, Path checkpointPrefix) {
    requireKnownOps(graphDef);
    TfReference ref = importGraph(graphDef);
    try (TString prefix = TString.scalarOf(checkpointPrefix.toString())) {
      TensorName file = TensorName.parse(saver.getFilenameTensorName());
      ref.session.runner()
          .feed(file.op(), file.index(), prefix)
          .addTarget(TensorName.parse(saver.getRestoreOpName()).op())
          .run()
          .close();
      return ref;
    } catch (RuntimeException e) {
      ref.close();
      throw new IllegalStateException("restore through " + saver.getRestoreOpName() + " failed: " + e.getMessage(), e);
    }
  }

  /** Runs the fetches (TF tensor names, {@code name:0} or {@code name}) with the given feeds. */
  public Map<String, Tensor> run(Map<String, Tensor> feeds, List<String> fetches) {
    if (closed) throw new IllegalStateException("TfReference is closed");
    for (String f : feeds.keySet()) checkTensorName(f, "feed");
    for (String f : fetches) checkTensorName(f, "fetch");
    List<org.tensorflow.Tensor> inputs = new ArrayList<>();
    try {
      Session.Runner r = fed(feeds, inputs);
      // TF rejects fetching one tensor twice ("x" and "x:0"); fetch each once and map back.
      Map<TensorName, Integer> slot = new LinkedHashMap<>();
      for (String f : fetches) {
        TensorName n = TensorName.parse(f);
        if (slot.putIfAbsent(n, slot.size()) == null) r.fetch(n.op(), n.index());
      }
      Map<String, Tensor> out = new LinkedHashMap<>();
      try (Result res = r.run()) {
        for (String f : fetches) out.put(f, TfTensors.fromTf(res.get(slot.get(TensorName.parse(f)))));
      }
      return out;
    } finally {
      for (org.tensorflow.Tensor t : inputs) t.close();
    }
  }

  /** A runner with {@code feeds} fed; the TF tensors made for them go to {@code inputs} (the caller closes them). */
  private Session.Runner fed(Map<String, Tensor> feeds, List<org.tensorflow.Tensor> inputs) {
    Session.Runner r = session.runner();
    for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
      org.tensorflow.Tensor t = TfTensors.toTf(e.getValue());
      inputs.add(t);
      TensorName n = TensorName.parse(e.getKey());
      r.feed(n.op(), n.index(), t);
    }
    return r;
  }

  /** Runs the target ops (e.g. variable assigns, init ops) with the given feeds; nothing is fetched. */
  public void runTargets(Map<String, Tensor> feeds, List<String> targets) {
    if (closed) throw new IllegalStateException("TfReference is closed");
    List<org.tensorflow.Tensor> inputs = new ArrayList<>();
    try {
      Session.Runner r = fed(feeds, inputs);
      for (String t : targets) r.addTarget(t);
      r.run().close();
    } finally {
      for (org.tensorflow.Tensor t : inputs) t.close();
    }
  }

  /** The imported graph (for shape queries); owned by this object. */
  public Graph graph() {
    return graph;
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    try {
      session.close();
    } finally {
      graph.close();
    }
  }

  /** Variable nodes whose values a checkpoint holds, in graph order. */
  public static List<NodeDef> variables(GraphDef g) {
    List<NodeDef> vars = new ArrayList<>();
    for (NodeDef n : g.getNodeList()) {
      if (isVariableOp(n.getOp())) vars.add(n);
    }
    return vars;
  }

  static boolean isVariableOp(String op) {
    return op.equals("VarHandleOp") || op.equals("VariableV2") || op.equals("Variable");
  }

  /** Throws, listing every node whose op this TensorFlow build does not know (e.g. RETURNN's NativeLstm2). */
  public static void requireKnownOps(GraphDef g) {
    Set<String> known = registeredOps();
    Set<String> functions = new TreeSet<>();
    g.getLibrary().getFunctionList().forEach(f -> functions.add(f.getSignature().getName()));
    List<String> unknown = new ArrayList<>();
    for (NodeDef n : g.getNodeList()) {
      if (!known.contains(n.getOp()) && !functions.contains(n.getOp())) {
        unknown.add("'" + n.getOp() + "' (node '" + n.getName() + "')");
      }
    }
    if (!unknown.isEmpty()) {
      throw new UnsupportedOperationException(
          "TensorFlow " + TensorFlow.version() + " cannot run this graph: op type not registered: "
              + String.join(", ", unknown)
              + ". RETURNN custom ops (NativeLstm2, ...) need their compiled op library.");
    }
  }

  /** Names of all ops registered in the loaded TensorFlow library. */
  public static Set<String> registeredOps() {
    Set<String> ops = registeredOps;
    if (ops == null) {
      ops = new TreeSet<>();
      for (OpDef d : TensorFlow.registeredOpList().getOpList()) ops.add(d.getName());
      registeredOps = ops;
    }
    return ops;
  }

  private static TfReference importGraph(GraphDef g) {
    return importGraph(g, null);
  }

  private static TfReference importGraph(GraphDef g, org.tensorflow.proto.ConfigProto config) {
    Graph graph = new Graph();
    try {
      graph.importGraphDef(g);
      return new TfReference(graph, config == null ? new Session(graph) : new Session(graph, config));
    } catch (RuntimeException e) {
      graph.close();
      throw e;
    }
  }

  private void checkTensorName(String name, String what) {
    TensorName n = TensorName.parse(name);
    var op = graph.operation(n.op());
    if (op == null) throw new IllegalArgumentException("unknown " + what + " '" + name + "': no node '" + n.op() + "'");
    if (n.index() >= op.numOutputs()) {
      throw new IllegalArgumentException(
          "unknown " + what + " '" + name + "': node '" + n.op() + "' has " + op.numOutputs() + " outputs");
    }
  }

  private static String uniqueScope(GraphDef g) {
    TreeSet<String> names = new TreeSet<>();
    g.getNodeList().forEach(n -> names.add(n.getName()));
    String scope = RESTORE_SCOPE;
    for (int i = 1; taken(names, scope); i++) scope = RESTORE_SCOPE + "_" + i;
    return scope;
  }

  private static boolean taken(TreeSet<String> names, String scope) {
    if (names.contains(scope)) return true;
    String s = names.ceiling(scope + "/");
    return s != null && s.startsWith(scope + "/");
  }

  /** Adds RestoreV2 and one assign per variable; returns the assign node names to run. */
  private static List<String> addRestoreNodes(GraphDef.Builder b, String scope, List<NodeDef> vars, String prefix) {
    List<ByteString> names = new ArrayList<>();
    List<ByteString> slices = new ArrayList<>();
    AttrValue.ListValue.Builder dtypes = AttrValue.ListValue.newBuilder();
    for (NodeDef v : vars) {
      names.add(ByteString.copyFromUtf8(v.getName()));
      slices.add(ByteString.EMPTY);
      dtypes.addType(baseType(v.getAttrOrThrow("dtype").getType()));
    }
    b.addNode(stringConst(scope + "/prefix", List.of(ByteString.copyFromUtf8(prefix)), false));
    b.addNode(stringConst(scope + "/tensor_names", names, true));
    b.addNode(stringConst(scope + "/shape_and_slices", slices, true));
    String restore = scope + "/RestoreV2";
    b.addNode(NodeDef.newBuilder().setName(restore).setOp("RestoreV2")
        .addInput(scope + "/prefix").addInput(scope + "/tensor_names").addInput(scope + "/shape_and_slices")
        .putAttr("dtypes", AttrValue.newBuilder().setList(dtypes).build()));
    List<String> assigns = new ArrayList<>();
    for (int i = 0; i < vars.size(); i++) {
      NodeDef v = vars.get(i);
      String name = scope + "/assign_" + i;
      AttrValue type = AttrValue.newBuilder().setType(baseType(v.getAttrOrThrow("dtype").getType())).build();
      NodeDef.Builder a = NodeDef.newBuilder().setName(name).addInput(v.getName()).addInput(restore + ":" + i);
      if (v.getOp().equals("VarHandleOp")) {
        a.setOp("AssignVariableOp").putAttr("dtype", type);
      } else {
        a.setOp("Assign").putAttr("T", type)
            .putAttr("validate_shape", AttrValue.newBuilder().setB(true).build())
            .putAttr("use_locking", AttrValue.newBuilder().setB(true).build());
      }
      b.addNode(a);
      assigns.add(name);
    }
    return assigns;
  }

  private static DataType baseType(DataType t) {
    return t.getNumber() > 100 ? DataType.forNumber(t.getNumber() - 100) : t;
  }

  private static NodeDef stringConst(String name, List<ByteString> values, boolean vector) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    if (vector) shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(values.size()));
    TensorProto t = TensorProto.newBuilder().setDtype(DataType.DT_STRING).setTensorShape(shape)
        .addAllStringVal(values).build();
    return NodeDef.newBuilder().setName(name).setOp("Const")
        .putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_STRING).build())
        .putAttr("value", AttrValue.newBuilder().setTensor(t).build())
        .build();
  }

  /** A TF tensor name split into node name and output index ({@code a/b:1}, or {@code a/b} = output 0). */
  public record TensorName(String op, int index) {
    public static TensorName parse(String name) {
      int c = name.lastIndexOf(':');
      if (c > 0 && c < name.length() - 1 && name.substring(c + 1).chars().allMatch(Character::isDigit)) {
        return new TensorName(name.substring(0, c), Integer.parseInt(name.substring(c + 1)));
      }
      return new TensorName(name, 0);
    }

    @Override
    public String toString() {
      return op + ":" + index;
    }
  }
}
