package returnn.onnx.tf;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
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
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

/**
 * The functions of a GraphDef's {@code library}, as TF 2 writes them for control flow v2 ({@code While},
 * {@code StatelessWhile}, {@code If}, {@code StatelessIf}) and for {@code tf.function} calls ({@code PartitionedCall},
 * {@code StatefulPartitionedCall}, or a node whose op is the function's name). Each call gets its own instance of the
 * function as an IR subgraph of "tf" nodes, stored in the call node's function attribute ({@code body}, {@code cond},
 * {@code then_branch}, {@code else_branch}, {@code f}) as a graph: inputs are the function's arguments, outputs its
 * {@code ret} values in signature order. The rules in {@code rewrite.functional} then make ONNX Loop/If nodes of
 * them, or inline them.
 *
 * <p>A FunctionDef names tensors {@code node:output_arg:index}, the index counting inside the op's output argument;
 * the flat output index needs the op's output arguments, which a generated table of every TF op with several
 * (op-output-args.txt, from TF's op registry) gives. Attribute placeholders ({@code $T}) take the call's values, and
 * argument types given by a type attribute come from the call. Recursive functions and calls of functions the library
 * lacks fail with one error naming the call.
 */
final class FunctionLibrary {
  /** Call op → its attributes naming functions. A node whose op is a library function is a call too. */
  static final Map<String, List<String>> CALL_OPS = Map.of(
      "While", List.of("cond", "body"), "StatelessWhile", List.of("cond", "body"),
      "If", List.of("then_branch", "else_branch"), "StatelessIf", List.of("then_branch", "else_branch"),
      "PartitionedCall", List.of("f"), "StatefulPartitionedCall", List.of("f"));

  /** More function nodes than this across all instances: a hostile library (calls fanning out exponentially). */
  static final int MAX_NODES = 1_000_000;

  private static volatile Map<String, List<String>> outputArgs;

  private final Map<String, FunctionDef> functions = new LinkedHashMap<>();
  private final Graph root;
  private final Deque<String> calling = new ArrayDeque<>();
  private final Map<String, Integer> histogram;
  private int instantiated;

  FunctionLibrary(org.tensorflow.proto.FunctionDefLibrary lib, Graph root, Map<String, Integer> histogram) {
    for (FunctionDef f : lib.getFunctionList()) functions.put(f.getSignature().getName(), f);
    this.root = root;
    this.histogram = histogram;
  }

  boolean isCall(NodeDef n) {
    return CALL_OPS.containsKey(n.getOp()) || functions.containsKey(n.getOp());
  }

  /** The op a call node gets in the IR: a call by function name becomes a {@code PartitionedCall}. */
  String irOp(NodeDef n) {
    return CALL_OPS.containsKey(n.getOp()) ? n.getOp() : "PartitionedCall";
  }

  /**
   * Instantiates the functions {@code call} (already created as {@code node} in {@code g}) calls and stores them as
   * graph attributes of {@code node}.
   */
  void attachBodies(NodeDef call, Node node, Graph g) {
    Map<String, AttrValue> attrs = call.getAttrMap();
    if (!CALL_OPS.containsKey(call.getOp())) {
      // A call by name: the node's attributes are the function's, its argument types the signature's.
      node.set("f", new Attr.GraphVal(instantiate(node, call.getOp(), attrs, null, g)));
      return;
    }
    List<DType> argTypes = switch (irOp(call)) {
      case "While", "StatelessWhile" -> types(attrs.get("T"), call);
      case "If", "StatelessIf", "PartitionedCall", "StatefulPartitionedCall" -> types(attrs.get("Tin"), call);
      default -> null;
    };
    for (String a : CALL_OPS.get(call.getOp())) {
      AttrValue v = attrs.get(a);
      if (v == null || !v.hasFunc()) {
        throw ConversionException.atNode(call.getName(), call.getOp(), "has no function attribute '" + a + "'");
      }
      NameAttrList f = v.getFunc();
      node.set(a, new Attr.GraphVal(instantiate(node, f.getName(), f.getAttrMap(), argTypes, g)));
    }
  }

  private static List<DType> types(AttrValue a, NodeDef n) {
    if (a == null) return null;
    List<DType> l = new ArrayList<>();
    for (int t : a.getList().getTypeValueList()) l.add(TfTensors.dtype(t, "node '" + n.getName() + "' (" + n.getOp() + ")"));
    return l;
  }

  /** One instance of function {@code name} as a subgraph of {@code parent}; {@code call} names the call in errors. */
  private Graph instantiate(Node call, String name, Map<String, AttrValue> attrs, List<DType> argTypes, Graph parent) {
    FunctionDef f = functions.get(name);
    if (f == null) {
      List<String> have = new ArrayList<>(functions.keySet());
      throw ConversionException.atNode(call.tfName(), call.op(), "calls function '" + name + "', which the graph's "
          + "function library does not define" + (have.isEmpty() ? " (the library is empty)"
              : " (it has: " + String.join(", ", have.subList(0, Math.min(5, have.size()))) + (have.size() > 5 ? ", ..." : "") + ")"));
    }
    if (calling.contains(name)) {
      List<String> chain = new ArrayList<>(calling);
      java.util.Collections.reverse(chain);
      chain.add(name);
      throw ConversionException.atNode(call.tfName(), call.op(), "calls function '" + name + "' recursively ("
          + String.join(" -> ", chain) + "); a recursive function cannot become an ONNX graph");
    }
    calling.push(name);
    try {
      return new Instance(f, attrs, argTypes, parent.newSubgraph(name)).build();
    } finally {
      calling.pop();
    }
  }

  /** One function instance being built. */
  private final class Instance {
    private final FunctionDef f;
    private final String fn;
    private final Map<String, AttrValue> attrs;
    private final List<DType> argTypes;
    private final Graph sub;
    private final Map<String, List<Value>> args = new HashMap<>();
    private final Map<String, NodeDef> defs = new LinkedHashMap<>();
    private final Map<String, Node> nodes = new HashMap<>();
    private final Map<String, Value> constants = new HashMap<>();

    Instance(FunctionDef f, Map<String, AttrValue> attrs, List<DType> argTypes, Graph sub) {
      this.f = f;
      this.fn = f.getSignature().getName();
      this.attrs = attrs;
      this.argTypes = argTypes;
      this.sub = sub;
    }

    Graph build() {
      OpDef sig = f.getSignature();
      int flat = 0;
      for (int i = 0; i < sig.getInputArgCount(); i++) {
        OpDef.ArgDef a = sig.getInputArg(i);
        List<DType> ts = argTypes(a, flat);
        List<Value> vs = new ArrayList<>();
        for (DType t : ts) {
          Shape hint = argShape(i);
          vs.add(sub.addInput(sub.uniqueName(fn + "/" + a.getName()), t, ts.size() == 1 ? hint : Shape.UNKNOWN));
          flat++;
        }
        args.put(a.getName(), vs);
      }
      for (NodeDef n : f.getNodeDefList()) {
        if (defs.put(n.getName(), n) != null) throw error(n, "is defined twice in the function");
      }
      Set<String> keep = reachable();
      for (NodeDef n : f.getNodeDefList()) if (keep.contains(n.getName())) create(n);
      for (NodeDef n : f.getNodeDefList()) if (nodes.containsKey(n.getName())) wire(n);
      for (OpDef.ArgDef out : sig.getOutputArgList()) {
        String ref = f.getRetMap().get(out.getName());
        if (ref == null) {
          throw new ConversionException("function '" + fn + "': output '" + out.getName() + "' has no ret value");
        }
        for (Value v : resolve(ref, null)) sub.addOutput(v);
      }
      return sub;
    }

    private List<DType> argTypes(OpDef.ArgDef a, int flat) {
      int count = 1;
      if (!a.getNumberAttr().isEmpty()) count = (int) attr(a.getNumberAttr()).getI();
      if (!a.getTypeListAttr().isEmpty()) {
        List<DType> l = new ArrayList<>();
        for (int t : attr(a.getTypeListAttr()).getList().getTypeValueList()) l.add(TfTensors.dtype(t, where()));
        return l;
      }
      List<DType> l = new ArrayList<>();
      for (int k = 0; k < count; k++) {
        DType t;
        if (a.getTypeValue() != 0) t = TfTensors.dtype(a.getTypeValue(), where());
        else if (!a.getTypeAttr().isEmpty() && attrs.containsKey(a.getTypeAttr())) {
          t = TfTensors.dtype(attrs.get(a.getTypeAttr()).getTypeValue(), where());
        } else if (argTypes != null && flat + k < argTypes.size()) t = argTypes.get(flat + k);
        else throw new ConversionException(where() + ": the type of argument '" + a.getName() + "' is not given");
        l.add(t);
      }
      return l;
    }

    private AttrValue attr(String name) {
      AttrValue v = attrs.get(name);
      if (v == null) throw new ConversionException(where() + ": attribute '" + name + "' is not given by the call");
      return v;
    }

    /** TF's {@code _output_shapes} argument attribute, if the function carries it. */
    private Shape argShape(int i) {
      var aa = f.getArgAttrMap().get(i);
      if (aa == null || !aa.getAttrMap().containsKey("_output_shapes")) return Shape.UNKNOWN;
      var l = aa.getAttrMap().get("_output_shapes").getList();
      return l.getShapeCount() == 1 ? TfTensors.shape(l.getShape(0)) : Shape.UNKNOWN;
    }

    private String where() {
      return "function '" + fn + "'";
    }

    private ConversionException error(NodeDef n, String message) {
      return ConversionException.atNode(fn + "/" + n.getName(), n.getOp(), message);
    }

    /** The nodes the function's outputs need through data edges. */
    private Set<String> reachable() {
      Set<String> keep = new LinkedHashSet<>();
      Deque<String> todo = new ArrayDeque<>();
      for (String ref : f.getRetMap().values()) todo.add(ref);
      while (!todo.isEmpty()) {
        String ref = todo.poll();
        String node = nodeOf(ref);
        if (args.containsKey(ref) || node == null || !keep.add(node)) continue;
        NodeDef n = defs.get(node);
        for (String in : n.getInputList()) if (!in.startsWith("^")) todo.add(in);
      }
      return keep;
    }

    /** The node a tensor reference names, or null for an argument; fails for a name that is neither. */
    private String nodeOf(String ref) {
      if (args.containsKey(ref)) return null;
      int c = ref.indexOf(':');
      String node = c < 0 ? ref : ref.substring(0, c);
      if (!defs.containsKey(node)) {
        throw new ConversionException(where() + ": '" + ref + "' names no argument or node of the function");
      }
      return node;
    }

    private void create(NodeDef def) {
      if (++instantiated > MAX_NODES) {
        throw new ConversionException(where() + ": the function library instantiates more than " + MAX_NODES
            + " nodes (calls fanning out); not converted");
      }
      NodeDef n = substitute(def);
      histogram.merge(n.getOp(), 1, Integer::sum);
      String tfName = fn + "/" + n.getName();
      switch (n.getOp()) {
        case "Const" -> constants.put(n.getName(), root.addConstant(tfName, TfTensors.fromProto(
            n.getAttrOrThrow("value").getTensor(), "node '" + tfName + "' (Const)")));
        case "Placeholder", "PlaceholderV2", "VarHandleOp", "VariableV2", "Variable" ->
            throw error(n, "inside a function is not supported (only as a node of the main graph)");
        default -> {
          boolean call = isCall(n);
          Node node = sub.addNode(Node.TF, call ? irOp(n) : n.getOp(), tfName, tfName, List.of(), 0);
          for (Map.Entry<String, AttrValue> a : n.getAttrMap().entrySet()) {
            if (a.getKey().equals("_output_shapes") || a.getKey().equals("_class")) continue;
            node.set(a.getKey(), TfImporter.convertAttr(a.getValue(), n));
          }
          if (n.containsAttr("_output_shapes")) node.set("_output_shapes", TfImporter.convertAttr(n.getAttrOrThrow("_output_shapes"), n));
          if (call) attachBodies(n, node, sub);
          nodes.put(n.getName(), node);
        }
      }
    }

    /** The node with attribute placeholders ({@code $T}) replaced by the call's attribute values. */
    private NodeDef substitute(NodeDef n) {
      NodeDef.Builder b = null;
      for (Map.Entry<String, AttrValue> a : n.getAttrMap().entrySet()) {
        if (a.getValue().getValueCase() != AttrValue.ValueCase.PLACEHOLDER) continue;
        AttrValue v = attrs.get(a.getValue().getPlaceholder());
        if (v == null) {
          throw error(n, "attribute '" + a.getKey() + "' is the placeholder $" + a.getValue().getPlaceholder()
              + ", which the call does not give");
        }
        if (b == null) b = n.toBuilder();
        b.putAttr(a.getKey(), v);
      }
      return b == null ? n : b.build();
    }

    private void wire(NodeDef n) {
      Node node = nodes.get(n.getName());
      for (String in : n.getInputList()) {
        if (in.startsWith("^")) continue;
        for (Value v : resolve(in, n)) sub.addInputTo(node, v);
      }
    }

    /** The values a reference names: an argument (all its tensors), or {@code node:output_arg:index}. */
    private List<Value> resolve(String ref, NodeDef consumer) {
      List<Value> a = args.get(ref);
      if (a != null) return a;
      String[] parts = ref.split(":");
      NodeDef src = defs.get(parts[0]);
      if (src == null) throw new ConversionException(where() + ": '" + ref + "' names no argument or node of the function");
      Value c = constants.get(parts[0]);
      if (c != null) return List.of(c);
      Node node = nodes.get(parts[0]);
      int index = parts.length == 3 ? flatIndex(substitute(src), parts[1], Integer.parseInt(parts[2]))
          : parts.length == 2 && parts[1].chars().allMatch(Character::isDigit) ? Integer.parseInt(parts[1]) : 0;
      while (node.outputs().size() <= index) {
        int k = node.outputs().size();
        sub.addNodeOutput(node, k == 0 ? node.name() : node.name() + ":" + k);
      }
      return List.of(node.output(index));
    }

    /** The flat output index of {@code arg:index} of node {@code n}. */
    private int flatIndex(NodeDef n, String arg, int index) {
      List<String> outs = outputArgs(n);
      if (outs == null) return index;
      int offset = 0;
      for (String spec : outs) {
        String name = spec.split("[*+]")[0];
        int size = 1;
        if (spec.contains("*")) size = (int) n.getAttrOrThrow(spec.substring(spec.indexOf('*') + 1)).getI();
        if (spec.contains("+")) size = n.getAttrOrThrow(spec.substring(spec.indexOf('+') + 1)).getList().getTypeCount();
        if (name.equals(arg)) return offset + index;
        offset += size;
      }
      throw error(n, "has no output argument '" + arg + "' (it has " + outs + ")");
    }

    /** Output argument specs of the op (a library function's own outputs for a call by name); null: one argument. */
    private List<String> outputArgs(NodeDef n) {
      FunctionDef called = functions.get(n.getOp());
      if (called != null) {
        List<String> l = new ArrayList<>();
        for (OpDef.ArgDef a : called.getSignature().getOutputArgList()) {
          l.add(a.getName() + (!a.getNumberAttr().isEmpty() ? "*" + a.getNumberAttr()
              : !a.getTypeListAttr().isEmpty() ? "+" + a.getTypeListAttr() : ""));
        }
        return l;
      }
      return table().get(n.getOp());
    }
  }

  /** The generated table: op → output argument specs, for ops with several output arguments. */
  static Map<String, List<String>> table() {
    Map<String, List<String>> t = outputArgs;
    if (t != null) return t;
    t = new HashMap<>();
    try (InputStream in = FunctionLibrary.class.getResourceAsStream("op-output-args.txt")) {
      if (in == null) throw new IllegalStateException("op-output-args.txt missing from the jar");
      BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
      for (String line; (line = r.readLine()) != null; ) {
        if (line.isBlank() || line.startsWith("#")) continue;
        String[] p = line.trim().split(" ");
        t.put(p[0], List.of(p).subList(1, p.length));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    outputArgs = t;
    return t;
  }
}
