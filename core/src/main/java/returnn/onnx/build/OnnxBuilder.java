package returnn.onnx.build;

import returnn.onnx.eval.ConstantFolder;
import returnn.onnx.eval.TypeInference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * Emits ONNX ops into a graph. Every emitted op is constant-folded when all its inputs are constants, and gets
 * its output types inferred otherwise. Opset drift lives here (axes as attribute or input, by op and opset), so
 * handlers and rules are written once for every opset from 13 to 23.
 */
public final class OnnxBuilder {
  private final Graph graph;
  private final int opset;
  private final String namePrefix;
  private final String tfName;

  public OnnxBuilder(Graph graph, int opset, String namePrefix, String tfName) {
    this.graph = graph;
    this.opset = opset;
    this.namePrefix = namePrefix;
    this.tfName = tfName;
  }

  public Graph graph() {
    return graph;
  }

  public int opset() {
    return opset;
  }

  /** A builder emitting into another graph (a Loop body) with the same opset. */
  public OnnxBuilder into(Graph g) {
    return new OnnxBuilder(g, opset, namePrefix, tfName);
  }

  public Value op(String type, Value... inputs) {
    return op(type, Arrays.asList(inputs), Map.of());
  }

  public Value op(String type, List<Value> inputs, Map<String, Attr> attrs) {
    return node(Node.ONNX, type, inputs, attrs, 1).get(0);
  }

  /** Emits a node of any domain with {@code numOutputs} outputs; folds it when possible. */
  public List<Value> node(String domain, String type, List<Value> inputs, Map<String, Attr> attrs, int numOutputs) {
    if (ConstantFolder.canFold(domain, type) && numOutputs == 1 && allConstant(inputs)) {
      List<Tensor> in = new ArrayList<>();
      for (Value v : inputs) in.add(v == null ? null : v.constant());
      List<Tensor> r = ConstantFolder.fold(type, in, attrs, opset);
      if (r != null) return List.of(graph.addConstant(namePrefix + "/" + type, r.get(0)));
    }
    if (domain.isEmpty() && type.equals("Shape") && inputs.get(0).shape().isFullyKnown() && !attrs.containsKey("start")) {
      return List.of(constant(Tensor.vectorLongs(inputs.get(0).shape().sizes())));
    }
    Node n = graph.addNode(domain, type, namePrefix + "/" + type, tfName, inputs, numOutputs);
    for (Map.Entry<String, Attr> a : attrs.entrySet()) n.set(a.getKey(), a.getValue());
    TypeInference.infer(n, opset);
    return n.outputs();
  }

  public Node rawNode(String domain, String type, List<Value> inputs, Map<String, Attr> attrs, int numOutputs) {
    Node n = graph.addNode(domain, type, namePrefix + "/" + type, tfName, inputs, numOutputs);
    for (Map.Entry<String, Attr> a : attrs.entrySet()) n.set(a.getKey(), a.getValue());
    TypeInference.infer(n, opset);
    return n;
  }

  private static boolean allConstant(List<Value> inputs) {
    for (Value v : inputs) if (v != null && !v.isConstant()) return false;
    return true;
  }

  public Value constant(Tensor t) {
    return graph.addConstant(namePrefix + "/const", t);
  }

  public Value constLongs(long... v) {
    return constant(Tensor.vectorLongs(v));
  }

  public Value scalarLong(long v) {
    return constant(Tensor.scalarLong(v));
  }

  /** A scalar of the given dtype. */
  public Value scalar(DType dt, double v) {
    return constant(dt.isFloating() ? Tensor.fromDoubles(dt, new long[0], new double[] {v})
        : Tensor.fromLongs(dt, new long[0], new long[] {(long) v}));
  }

  public Value cast(Value v, DType to) {
    if (v.dtype() == to) return v;
    return op("Cast", List.of(v), Attrs.of("to", to.onnxCode));
  }

  public Value unsqueeze(Value v, long... axes) {
    return op("Unsqueeze", List.of(v, constLongs(axes)), Map.of());
  }

  /** Squeeze; {@code axes} null squeezes every dim of size 1. */
  public Value squeeze(Value v, long... axes) {
    if (axes == null) return op("Squeeze", List.of(v), Map.of());
    return op("Squeeze", List.of(v, constLongs(axes)), Map.of());
  }

  /** ReduceX with axes as attribute or input as the opset wants; {@code axes} null or empty reduces all. */
  public Value reduce(String op, Value v, long[] axes, boolean keepDims) {
    boolean axesAsInput = op.equals("ReduceSum") ? opset >= 13 : opset >= 18;
    if (axes == null || axes.length == 0) return op(op, List.of(v), Attrs.of("keepdims", keepDims ? 1 : 0));
    if (axesAsInput) return op(op, List.of(v, constLongs(axes)), Attrs.of("keepdims", keepDims ? 1 : 0));
    return op(op, List.of(v), Attrs.of("axes", axes, "keepdims", keepDims ? 1 : 0));
  }

  /** ReduceX with axes computed at run time (always input-form; needs ReduceSum or opset 18). */
  public Value reduceDynamic(String op, Value v, Value axes, boolean keepDims) {
    if (!op.equals("ReduceSum") && opset < 18) {
      throw new IllegalStateException(op + " with run-time axes needs opset 18");
    }
    return op(op, List.of(v, axes), Attrs.of("keepdims", keepDims ? 1 : 0, "noop_with_empty_axes", 1));
  }

  public Value transpose(Value v, long... perm) {
    boolean identity = true;
    for (int i = 0; i < perm.length; i++) if (perm[i] != i) identity = false;
    if (identity) return v;
    return op("Transpose", List.of(v), Attrs.of("perm", perm));
  }

  public Value reshape(Value v, Value shape) {
    return op("Reshape", List.of(v, shape), Map.of());
  }

  public Value shapeOf(Value v) {
    return op("Shape", List.of(v), Map.of());
  }

  /** Slice with constant starts/ends/axes (steps optional). */
  public Value slice(Value v, long[] starts, long[] ends, long[] axes, long[] steps) {
    List<Value> in = new ArrayList<>(List.of(v, constLongs(starts), constLongs(ends), constLongs(axes)));
    if (steps != null) in.add(constLongs(steps));
    return op("Slice", in, Map.of());
  }

  /** Split into pieces of the given sizes along axis (input form since opset 13). */
  public List<Value> split(Value v, long axis, long[] sizes) {
    return node(Node.ONNX, "Split", List.of(v, constLongs(sizes)), Attrs.of("axis", axis), sizes.length);
  }

  /** Split into {@code num} equal pieces along axis (no sizes input; opset 18 wants the count as num_outputs). */
  public List<Value> splitEqual(Value v, long axis, int num) {
    Map<String, Attr> attrs = opset >= 18 ? Attrs.of("axis", axis, "num_outputs", num) : Attrs.of("axis", axis);
    return node(Node.ONNX, "Split", List.of(v), attrs, num);
  }

  public Value concat(List<Value> parts, long axis) {
    if (parts.size() == 1) return parts.get(0);
    return op("Concat", parts, Attrs.of("axis", axis));
  }

  public Value gather(Value data, Value indices, long axis) {
    return op("Gather", List.of(data, indices), Attrs.of("axis", axis));
  }
}
