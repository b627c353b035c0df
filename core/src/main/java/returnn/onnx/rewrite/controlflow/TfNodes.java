package returnn.onnx.rewrite.controlflow;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;

/** Small helpers over "tf" dialect nodes shared by the control-flow rules. */
final class TfNodes {
  private TfNodes() {}

  static boolean isTf(Node n, String op) {
    return n != null && n.domain().equals(Node.TF) && n.op().equals(op);
  }

  static boolean producedBy(Value v, String op) {
    return v != null && isTf(v.producer(), op);
  }

  /** The value behind any chain of TF Identity nodes. */
  static Value skipIdentity(Value v) {
    while (v != null && producedBy(v, "Identity")) v = v.producer().input(0);
    return v;
  }

  /** The element type a control-flow node carries (attr {@code T}), or the TensorArray's {@code dtype}. */
  static DType type(Node n, String attr) {
    DType t = n.typeAttr(attr);
    if (t == null) throw ConversionErrors.at(n, "has no '" + attr + "' attribute");
    return t;
  }

  /** TF's {@code _output_shapes} hint for output {@code i}, if the graph file carries it. */
  static Shape shapeHint(Node n, int i) {
    if (n.attr("_output_shapes") instanceof Attr.Shapes s && i < s.values().size()) return s.values().get(i);
    return Shape.UNKNOWN;
  }

  /** Output {@code i} of {@code n}, or null if no consumer ever referenced it (TF nodes grow outputs on demand). */
  static Value output(Node n, int i) {
    return i < n.outputs().size() ? n.output(i) : null;
  }

  /** Uses of a possibly absent output. */
  static List<Value.Use> uses(Value v) {
    return v == null ? List.of() : new ArrayList<>(v.uses());
  }

  /**
   * Copies {@code n} into {@code target}: same op, attributes and TF name, inputs looked up in {@code subst} (kept when
   * absent); records the copy's outputs in {@code subst}.
   */
  static Node copy(Node n, Graph target, Map<Value, Value> subst) {
    List<Value> ins = new ArrayList<>();
    for (Value v : n.inputs()) ins.add(v == null ? null : subst.getOrDefault(v, v));
    Node c = target.addNode(n.domain(), n.op(), n.name(), n.tfName(), ins, n.outputs().size());
    n.attrs().forEach(c::set);
    for (int i = 0; i < n.outputs().size(); i++) {
      c.output(i).setDtype(n.output(i).dtype());
      c.output(i).setShape(n.output(i).shape());
      subst.put(n.output(i), c.output(i));
    }
    return c;
  }

  /**
   * An ONNX Identity in {@code g} whose output becomes the next output of {@code g}: every Loop/If body output is then
   * produced inside its body and used once, whatever the Legalizer later makes of the TF value behind it (an outer
   * value, a body input). Its type is known from the TF attributes now, before legalization.
   */
  static Value addSubgraphOutput(Graph g, Value v, DType type, String name) {
    Node id = g.addNode(Node.ONNX, "Identity", name, null, List.of(v), 1);
    id.output(0).setDtype(type);
    g.addOutput(id.output(0));
    return id.output(0);
  }
}
