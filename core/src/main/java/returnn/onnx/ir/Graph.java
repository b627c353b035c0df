package returnn.onnx.ir;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A graph of nodes connected by {@link Value}s. All structural edits go through this class (add, rewire,
 * replace all uses, remove), so producer and use lists never go stale. Nested graphs (ONNX Loop/If bodies)
 * have a parent and may use values of enclosing graphs.
 */
public final class Graph {
  private final String name;
  private Graph parent;
  /** Insertion order; removed nodes stay until the next read compacts the list (removal is O(1), not O(n)). */
  private final List<Node> nodes = new ArrayList<>();
  private int stale;
  private final List<Value> inputs = new ArrayList<>();
  private final List<Value> outputs = new ArrayList<>();
  private final List<Value> constants = new ArrayList<>();
  private final Map<Value, Tensor> inputDefaults = new IdentityHashMap<>();
  private final Set<String> names;
  private final Map<String, Integer> nameCounters;

  public Graph(String name) {
    this(name, null);
  }

  private Graph(String name, Graph parent) {
    this.name = name;
    this.parent = parent;
    this.names = parent == null ? new HashSet<>() : parent.names;
    this.nameCounters = parent == null ? new HashMap<>() : parent.nameCounters;
  }

  /** A nested graph (Loop/If body) sharing this graph's name space. */
  public Graph newSubgraph(String name) {
    return new Graph(name, this);
  }

  public String name() {
    return name;
  }

  /**
   * Moves a node of this graph into {@code target} (a nested graph of this one, or the other way round), keeping all its
   * edges; graphs the node holds (Loop/If bodies) are re-parented to {@code target}. Used to build loop bodies and
   * branches out of TF control flow.
   */
  public void moveNode(Node n, Graph target) {
    if (n.graph != this) throw new IllegalStateException(n + " is not in graph " + name);
    target.live(); // a stale entry of n in target (moved out earlier) must go before n is added back
    n.graph = target;
    target.nodes.add(n);
    stale++;
    for (Attr a : n.attrs().values()) if (a instanceof Attr.GraphVal g) g.value().parent = target;
  }

  public Graph parent() {
    return parent;
  }

  public List<Node> nodes() {
    return Collections.unmodifiableList(live());
  }

  private List<Node> live() {
    if (stale > 0) {
      nodes.removeIf(x -> x.graph != this);
      stale = 0;
    }
    return nodes;
  }

  public List<Value> inputs() {
    return Collections.unmodifiableList(inputs);
  }

  public List<Value> outputs() {
    return Collections.unmodifiableList(outputs);
  }

  public List<Value> constants() {
    return Collections.unmodifiableList(constants);
  }

  /** A name not used before in this graph's name space: {@code base}, else {@code base_1}, {@code base_2}... */
  public String uniqueName(String base) {
    if (names.add(base)) return base;
    int k = nameCounters.getOrDefault(base, 0);
    String n;
    do {
      n = base + "_" + (++k);
    } while (!names.add(n));
    nameCounters.put(base, k);
    return n;
  }

  /** Marks a name as taken (for names that must stay exactly as given, such as graph inputs). */
  public boolean reserveName(String n) {
    return names.add(n);
  }

  public Value addInput(String name, DType dtype, Shape shape) {
    Value v = new Value(name, dtype, shape, null);
    names.add(name);
    inputs.add(v);
    return v;
  }

  public void removeInput(Value v) {
    if (!v.uses.isEmpty() || v.graphOutputOf != null) throw new IllegalStateException("input " + v.name() + " still used");
    inputs.remove(v);
    inputDefaults.remove(v);
  }

  /**
   * Gives a graph input a default value: written as an initializer of the same name, which ONNX (IR version 4 and
   * later) treats as overridable, so callers may feed the input or leave it out.
   */
  public void setInputDefault(Value input, Tensor value) {
    if (!inputs.contains(input)) throw new IllegalArgumentException(input.name() + " is not an input of graph " + name);
    inputDefaults.put(input, value);
  }

  /** The default of a graph input, or null if it must be fed. */
  public Tensor inputDefault(Value input) {
    return inputDefaults.get(input);
  }

  public Value addConstant(String baseName, Tensor t) {
    Value v = new Value(uniqueName(baseName), t.dtype(), Shape.of(t.shape()), t);
    constants.add(v);
    return v;
  }

  public void addOutput(Value v) {
    outputs.add(v);
    v.graphOutputOf = this;
  }

  public void setOutput(int i, Value v) {
    Value old = outputs.set(i, v);
    if (!outputs.contains(old)) old.graphOutputOf = null;
    v.graphOutputOf = this;
  }

  public void removeOutput(int i) {
    Value old = outputs.remove(i);
    if (!outputs.contains(old)) old.graphOutputOf = null;
  }

  /**
   * Adds a node. Output values get unique names derived from {@code name} ({@code name}, {@code name:1} ...
   * never; ONNX value names here are {@code name}, {@code name_o1}, ...) and unknown type and shape.
   */
  public Node addNode(String domain, String op, String nodeName, String tfName, List<Value> ins, int numOutputs) {
    Node n = new Node(domain, op, uniqueName(nodeName), tfName);
    n.graph = this;
    for (int i = 0; i < ins.size(); i++) {
      Value v = ins.get(i);
      n.inputs.add(v);
      if (v != null) v.uses.add(new Value.Use(n, i));
    }
    for (int i = 0; i < numOutputs; i++) {
      Value v = new Value(i == 0 ? n.name() : uniqueName(n.name() + "_o" + i), null, Shape.UNKNOWN, null);
      if (i == 0) names.add(v.name());
      v.setProducer(n, i);
      n.outputs.add(v);
    }
    nodes.add(n); // no compaction here: appending keeps stale entries harmless (they are not in this graph)
    return n;
  }

  /** Adds an output value to an existing node (TF nodes discover their output count from consumers). */
  public Value addNodeOutput(Node n, String valueName) {
    Value v = new Value(uniqueName(valueName), null, Shape.UNKNOWN, null);
    v.setProducer(n, n.outputs.size());
    n.outputs.add(v);
    return v;
  }

  public void setInput(Node n, int i, Value v) {
    while (n.inputs.size() <= i) n.inputs.add(null);
    Value old = n.inputs.get(i);
    if (old != null) removeUse(old, n, i);
    n.inputs.set(i, v);
    if (v != null) v.uses.add(new Value.Use(n, i));
  }

  public void addInputTo(Node n, Value v) {
    setInput(n, n.inputs.size(), v);
  }

  private static void removeUse(Value v, Node n, int i) {
    for (int k = 0; k < v.uses.size(); k++) {
      Value.Use u = v.uses.get(k);
      if (u.node() == n && u.index() == i) {
        v.uses.remove(k);
        return;
      }
    }
  }

  /** Every use of {@code old} (node inputs in any graph, graph outputs) now uses {@code replacement}. */
  public void replaceAllUses(Value old, Value replacement) {
    if (old == replacement) return;
    for (Value.Use u : new ArrayList<>(old.uses)) u.node().graph.setInput(u.node(), u.index(), replacement);
    Graph g = old.graphOutputOf;
    if (g != null) {
      for (int i = 0; i < g.outputs.size(); i++) if (g.outputs.get(i) == old) g.setOutput(i, replacement);
    }
  }

  /** Removes a node whose outputs are no longer used. */
  public void removeNode(Node n) {
    for (Value o : n.outputs) {
      if (!o.uses.isEmpty() || o.graphOutputOf != null) {
        throw new IllegalStateException("cannot remove " + n + ": output " + o.name() + " still used by " + o.uses);
      }
    }
    for (int i = 0; i < n.inputs.size(); i++) {
      Value v = n.inputs.get(i);
      if (v != null) removeUse(v, n, i);
    }
    n.graph = null;
    stale++;
  }

  /** Removes nodes and constants that do not contribute to the graph outputs (nor to nested graphs' outer uses). */
  public int removeDeadNodes() {
    int removed = 0;
    boolean changed = true;
    while (changed) {
      changed = false;
      List<Node> snapshot = new ArrayList<>(live());
      for (int i = snapshot.size() - 1; i >= 0; i--) {
        Node n = snapshot.get(i);
        if (n.graph != this) continue;
        boolean used = false;
        for (Value o : n.outputs) if (o.useCount() > 0) used = true;
        if (!used) {
          removeNode(n);
          removed++;
          changed = true;
        }
      }
    }
    constants.removeIf(c -> c.useCount() == 0);
    for (Node n : live()) {
      for (Attr a : n.attrs().values()) if (a instanceof Attr.GraphVal g) removed += g.value().removeDeadNodes();
    }
    return removed;
  }

  /**
   * Nodes in a deterministic topological order: Kahn's algorithm, ready nodes taken in insertion order.
   * Values from enclosing graphs and nested-graph uses count as dependencies of the node holding the graph.
   */
  public List<Node> topologicalOrder() {
    List<Node> nodes = live();
    Map<Node, Integer> index = new IdentityHashMap<>();
    for (int i = 0; i < nodes.size(); i++) index.put(nodes.get(i), i);
    Map<Node, Integer> pending = new IdentityHashMap<>();
    Map<Node, List<Node>> dependents = new IdentityHashMap<>();
    for (Node n : nodes) {
      Set<Node> deps = Collections.newSetFromMap(new IdentityHashMap<>());
      collectDeps(n, index, deps);
      deps.remove(n);
      pending.put(n, deps.size());
      for (Node d : deps) dependents.computeIfAbsent(d, k -> new ArrayList<>()).add(n);
    }
    java.util.PriorityQueue<Node> ready = new java.util.PriorityQueue<>((a, b) -> index.get(a) - index.get(b));
    for (Node n : nodes) if (pending.get(n) == 0) ready.add(n);
    List<Node> order = new ArrayList<>();
    while (!ready.isEmpty()) {
      Node n = ready.poll();
      order.add(n);
      for (Node d : dependents.getOrDefault(n, List.of())) {
        if (pending.merge(d, -1, Integer::sum) == 0) ready.add(d);
      }
    }
    if (order.size() != nodes.size()) {
      List<String> cyc = new ArrayList<>();
      for (Node n : nodes) if (pending.get(n) > 0) cyc.add(n.describe());
      throw new IllegalStateException("graph " + name + " has a cycle through " + cyc.subList(0, Math.min(5, cyc.size())));
    }
    return order;
  }

  private void collectDeps(Node n, Map<Node, Integer> index, Set<Node> deps) {
    for (Value v : n.inputs) {
      if (v == null) continue;
      Node p = v.producer();
      if (p != null && index.containsKey(p)) deps.add(p);
    }
    for (Attr a : n.attrs().values()) {
      if (a instanceof Attr.GraphVal g) {
        for (Node inner : g.value().live()) collectDeps(inner, index, deps);
      }
    }
  }

  /** Reorders the node list topologically (writers and passes that walk nodes rely on it). */
  public void sortTopologically() {
    List<Node> order = topologicalOrder();
    live().clear();
    nodes.addAll(order);
  }

  /** All nodes of this graph and nested graphs. */
  public List<Node> allNodes() {
    List<Node> all = new ArrayList<>();
    Deque<Graph> todo = new ArrayDeque<>(List.of(this));
    while (!todo.isEmpty()) {
      Graph g = todo.poll();
      for (Node n : g.live()) {
        all.add(n);
        for (Attr a : n.attrs().values()) if (a instanceof Attr.GraphVal gv) todo.add(gv.value());
      }
    }
    return all;
  }

  /** Op histogram ("LSTM" → 2, "com.microsoft.MultiHeadAttention" → 1), sorted by op name, nested graphs included. */
  public Map<String, Integer> opHistogram() {
    Map<String, Integer> h = new java.util.TreeMap<>();
    for (Node n : allNodes()) {
      String key = n.domain().isEmpty() || n.domain().equals(Node.TF) ? n.op() : n.domain() + "." + n.op();
      h.merge(key, 1, Integer::sum);
    }
    return h;
  }

  public int count(String op) {
    return opHistogram().getOrDefault(op, 0);
  }

  @Override
  public String toString() {
    return "Graph(" + name + ", " + live().size() + " nodes)";
  }

  /** Values reachable backwards from the outputs; helper for pruning. */
  public Set<Node> reachableFromOutputs() {
    Set<Node> seen = new LinkedHashSet<>();
    Deque<Value> todo = new ArrayDeque<>(outputs);
    while (!todo.isEmpty()) {
      Value v = todo.poll();
      Node p = v.producer();
      if (p != null && seen.add(p)) for (Value i : p.inputs) if (i != null) todo.add(i);
    }
    return seen;
  }
}
