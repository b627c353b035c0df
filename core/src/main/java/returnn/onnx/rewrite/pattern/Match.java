package returnn.onnx.rewrite.pattern;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/** What a successful match bound: values and nodes by name, the root value, and every matched op node. */
public final class Match {
  private final Value root;
  private final Map<String, Value> values;
  private final Map<String, Node> nodes;
  private final List<Node> matched;

  Match(Value root, Map<String, Value> values, Map<String, Node> nodes, List<Node> matched) {
    this.root = root;
    this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    this.nodes = Collections.unmodifiableMap(new LinkedHashMap<>(nodes));
    this.matched = List.copyOf(matched);
  }

  /** The value the pattern's root matched. */
  public Value root() {
    return root;
  }

  public Node rootNode() {
    return root.producer();
  }

  public boolean has(String name) {
    return values.containsKey(name) || nodes.containsKey(name);
  }

  /** The value bound to {@code name} (pass-through ops such as Identity and ReadVariableOp already looked through). */
  public Value value(String name) {
    Value v = values.get(name);
    if (v == null) throw new IllegalArgumentException("no value bound to '" + name + "' (bound: " + values.keySet() + ")");
    return v;
  }

  public Node node(String name) {
    Node n = nodes.get(name);
    if (n == null) throw new IllegalArgumentException("no node bound to '" + name + "' (bound: " + nodes.keySet() + ")");
    return n;
  }

  /** The data of the constant bound to {@code name}. */
  public Tensor constant(String name) {
    Tensor t = value(name).constant();
    if (t == null) throw new IllegalArgumentException("'" + name + "' is not a constant");
    return t;
  }

  /** Every op node the pattern matched, in match order. */
  public List<Node> nodes() {
    return matched;
  }

  /**
   * The matched nodes other than the root whose outputs are used outside the match (or are graph outputs): a rewrite
   * that replaces only the root leaves these computed. Empty means the whole match dies with the root.
   */
  public List<Node> escaping() {
    return escaping(u -> false);
  }

  /** As {@link #escaping()}, not counting uses by nodes {@code harmless} accepts (e.g. Shape, which a rewrite keeps valid). */
  public List<Node> escaping(Predicate<Node> harmless) {
    List<Node> out = new ArrayList<>();
    for (Node n : matched) {
      if (n == rootNode()) continue;
      for (Value o : n.outputs()) {
        boolean outside = o.isGraphOutput();
        for (Value.Use u : o.uses()) if (!matched.contains(u.node()) && !harmless.test(u.node())) outside = true;
        if (outside && !out.contains(n)) out.add(n);
      }
    }
    return out;
  }
}
