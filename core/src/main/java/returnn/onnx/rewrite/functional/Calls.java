package returnn.onnx.rewrite.functional;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;

/** Helpers over call nodes and their function subgraphs. */
final class Calls {
  private Calls() {}

  static boolean isTf(Node n, String... ops) {
    if (n == null || !n.domain().equals(Node.TF)) return false;
    for (String op : ops) if (n.op().equals(op)) return true;
    return false;
  }

  static Graph function(Node call, String attr) {
    if (call.attr(attr) instanceof Attr.GraphVal g) return g.value();
    throw error(call, "has no function '" + attr + "' (it was not imported from the library)");
  }

  static ConversionException error(Node n, String message) {
    return ConversionException.atNode(n.tfName() != null ? n.tfName() : n.name(), n.op(), message);
  }

  /** Output {@code i} of a TF node, or null if no consumer referenced it. */
  static Value output(Node n, int i) {
    return i < n.outputs().size() ? n.output(i) : null;
  }

  /** The value behind TF Identity nodes. */
  static Value skipIdentity(Value v) {
    while (v != null && isTf(v.producer(), "Identity")) v = v.producer().input(0);
    return v;
  }

  /** The function's outputs, detached from it (a value can only be the output of one graph at a time). */
  static List<Value> takeOutputs(Graph f) {
    List<Value> outs = new ArrayList<>(f.outputs());
    for (int i = f.outputs().size() - 1; i >= 0; i--) f.removeOutput(i);
    return outs;
  }

  /** The list-of-types attribute {@code key} (While's {@code T}, If's {@code Tout}). */
  static List<DType> types(Node n, String key) {
    if (n.attr(key) instanceof Attr.Types t) return t.values();
    if (n.attr(key) instanceof Attr.Ints i && i.values().length == 0) return List.of();
    throw error(n, "has no type list '" + key + "'");
  }

  /** An ONNX Identity on {@code v} in {@code g}, typed {@code t}: a subgraph output produced inside the subgraph. */
  static Value identity(Graph g, Value v, DType t, String name) {
    Node id = g.addNode(Node.ONNX, "Identity", name, null, List.of(v), 1);
    id.output(0).setDtype(t);
    if (v.shape().hasRank()) id.output(0).setShape(v.shape());
    return id.output(0);
  }

  /**
   * Copies the nodes of {@code src} (with the graphs they hold, recursively) into {@code target}, inputs looked up in
   * {@code subst}; records each copied output there.
   */
  static void copyNodes(Graph src, Graph target, Map<Value, Value> subst) {
    for (Node n : src.topologicalOrder()) {
      List<Value> ins = new ArrayList<>();
      for (Value v : n.inputs()) ins.add(v == null ? null : subst.getOrDefault(v, v));
      Node c = target.addNode(n.domain(), n.op(), n.name(), n.tfName(), ins, n.outputs().size());
      for (Map.Entry<String, Attr> a : n.attrs().entrySet()) {
        c.set(a.getKey(), a.getValue() instanceof Attr.GraphVal g ? new Attr.GraphVal(copyGraph(g.value(), target, subst)) : a.getValue());
      }
      for (int i = 0; i < n.outputs().size(); i++) {
        c.output(i).setDtype(n.output(i).dtype());
        c.output(i).setShape(n.output(i).shape());
        subst.put(n.output(i), c.output(i));
      }
    }
  }

  private static Graph copyGraph(Graph g, Graph parent, Map<Value, Value> subst) {
    Graph c = parent.newSubgraph(g.name());
    for (Value in : g.inputs()) subst.put(in, c.addInput(parent.uniqueName(in.name()), in.dtype(), in.shape()));
    copyNodes(g, c, subst);
    for (Value out : g.outputs()) c.addOutput(subst.getOrDefault(out, out));
    return c;
  }
}
