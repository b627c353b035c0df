package returnn.onnx.rewrite.controlflow;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.eval.TypeInference;
import returnn.onnx.rewrite.Rule;
import returnn.onnx.rewrite.RuleContext;

/**
 * TF1 conditionals ({@code tf.cond} without control flow v2: {@code Switch(x, pred)} per value entering a branch,
 * {@code Merge} per result) to ONNX {@code If}, in the main graph and in loop bodies (run it after
 * {@link WhileLoopRule}, when the only Merges left are conditionals). A Merge's predicate is the one whose Switches its
 * two inputs depend on from opposite sides ({@code :0} false, {@code :1} true); Merges of one predicate form one If, and
 * a conditional nested in another's branch is converted first. The nodes depending on a branch's Switch outputs move
 * into that branch; Switch outputs become the switched value itself (an outer value of the branch).
 *
 * <p>The importer drops control edges but keeps a branch constant's tie to its branch (a control input on the
 * branch's pivot) as a Switch of the constant on the conditional's {@code pred_id}, so a branch of constants only has
 * its predicate too. Conditionals are told apart by their {@code pred_id} (one per {@code tf.cond}), so two in sequence
 * on the same predicate stay two Ifs.
 */
final class ConditionalRule implements Rule {
  /** A Switch side a value depends on: {@code (pred, branch)}. */
  private record Side(Value pred, int branch) {}

  /** A Merge of a conditional, with which input is the true branch. */
  private record Arm(Node merge, int trueInput) {}

  /** The Merges of one predicate: one If. */
  private record Group(Value pred, List<Arm> arms) {}

  @Override
  public String name() {
    return "ControlFlowRules.CONDITIONALS";
  }

  @Override
  public int apply(Graph g, RuleContext ctx) {
    return convertIn(g, ctx.opset());
  }

  private int convertIn(Graph g, int opset) {
    int converted = 0;
    for (Group group : groupsInnermostFirst(g)) {
      convert(g, group, opset);
      converted++;
    }
    for (Node n : new ArrayList<>(g.nodes())) {
      for (Attr a : n.attrs().values()) if (a instanceof Attr.GraphVal sub) converted += convertIn(sub.value(), opset);
    }
    return converted;
  }

  private List<Group> groupsInnermostFirst(Graph g) {
    Dependencies deps = new Dependencies(g);
    Map<Value, List<Arm>> byPred = new LinkedHashMap<>();
    Map<Value, Set<Side>> sidesOfPred = new IdentityHashMap<>();
    for (Node m : g.nodes()) {
      if (!TfNodes.isTf(m, "Merge")) continue;
      if (m.inputs().size() != 2) throw ConversionErrors.inConditional(m, "merges " + m.inputs().size() + " values, not 2");
      if (!TfNodes.uses(TfNodes.output(m, 1)).isEmpty()) throw ConversionErrors.inConditional(m, "its value_index is used");
      Set<Side> d0 = deps.of(m.input(0));
      Set<Side> d1 = deps.of(m.input(1));
      List<Arm> found = new ArrayList<>();
      Value pred = null;
      for (Side s : d0) {
        Side t = new Side(s.pred(), 1 - s.branch());
        if (!d0.contains(t) && d1.contains(t) && !d1.contains(s)) {
          found.add(new Arm(m, s.branch() == 0 ? 1 : 0));
          pred = s.pred();
        }
      }
      if (found.size() != 1) {
        throw ConversionErrors.inConditional(m, found.isEmpty()
            ? "no predicate's Switch feeds one input from its false side and the other from its true side (a branch "
                + "computed from constants only loses its tie to the predicate, a control edge)"
            : "its inputs depend on the Switches of " + found.size() + " predicates in opposite ways");
      }
      byPred.computeIfAbsent(pred, k -> new ArrayList<>()).add(found.get(0));
      Set<Side> all = new HashSet<>(d0);
      all.addAll(d1);
      sidesOfPred.computeIfAbsent(pred, k -> new HashSet<>()).addAll(all);
    }
    // A conditional lies in another's branch if its values depend on exactly one side of the other's predicate.
    List<Value> preds = new ArrayList<>(byPred.keySet());
    Map<Value, Integer> depth = new IdentityHashMap<>();
    for (Value p : preds) {
      int d = 0;
      for (Value q : preds) {
        Set<Side> s = sidesOfPred.get(p);
        if (q != p && s.contains(new Side(q, 0)) != s.contains(new Side(q, 1))) d++;
      }
      depth.put(p, d);
    }
    preds.sort((a, b) -> depth.get(b) - depth.get(a));
    List<Group> groups = new ArrayList<>();
    for (Value p : preds) groups.add(new Group(p, byPred.get(p)));
    return groups;
  }

  private void convert(Graph g, Group group, int opset) {
    List<Arm> arms = group.arms();
    Value pred = group.pred();
    Node first = arms.get(0).merge();
    Set<Node> merges = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Arm a : arms) merges.add(a.merge());
    List<Node> switches = new ArrayList<>();
    for (Node n : g.nodes()) if (TfNodes.isTf(n, "Switch") && n.input(1) == pred) switches.add(n);
    Map<Graph, Node> holders = holders(g);
    Set<Node> thenNodes = branch(g, switches, 1, merges, holders);
    Set<Node> elseNodes = branch(g, switches, 0, merges, holders);
    for (Node n : thenNodes) {
      if (elseNodes.contains(n)) throw ConversionErrors.inConditional(first, "node '" + n.tfName() + "' uses both branches");
    }
    String mergeName = first.tfName() != null ? first.tfName() : first.name();
    String scope = mergeName.contains("/") ? mergeName.substring(0, mergeName.lastIndexOf('/')) : mergeName;
    Graph thenG = g.newSubgraph(scope + "/then");
    Graph elseG = g.newSubgraph(scope + "/else");
    for (Node s : switches) {
      for (Value o : s.outputs()) g.replaceAllUses(o, s.input(0));
    }
    for (Node n : g.nodes().toArray(new Node[0])) {
      if (thenNodes.contains(n)) g.moveNode(n, thenG);
      else if (elseNodes.contains(n)) g.moveNode(n, elseG);
    }
    for (Arm a : arms) {
      var t = TfNodes.type(a.merge(), "T");
      TfNodes.addSubgraphOutput(thenG, a.merge().input(a.trueInput()), t, a.merge().tfName() + "/then");
      TfNodes.addSubgraphOutput(elseG, a.merge().input(1 - a.trueInput()), t, a.merge().tfName() + "/else");
    }
    Node ifNode = g.addNode(Node.ONNX, "If", scope, first.tfName(), List.of(pred), arms.size());
    ifNode.set("then_branch", new Attr.GraphVal(thenG));
    ifNode.set("else_branch", new Attr.GraphVal(elseG));
    TypeInference.infer(ifNode, opset);
    for (int k = 0; k < arms.size(); k++) {
      Node m = arms.get(k).merge();
      g.replaceAllUses(m.output(0), ifNode.output(k));
      g.removeNode(m);
    }
    for (Node s : switches) g.removeNode(s);
  }

  /** Nodes of {@code g} depending on the {@code side} outputs of the switches, up to (not including) the merges. */
  private static Set<Node> branch(Graph g, List<Node> switches, int side, Set<Node> merges, Map<Graph, Node> holders) {
    Set<Node> out = Collections.newSetFromMap(new IdentityHashMap<>());
    Deque<Value> todo = new ArrayDeque<>();
    for (Node s : switches) if (TfNodes.output(s, side) != null) todo.add(s.output(side));
    while (!todo.isEmpty()) {
      for (Value.Use u : todo.poll().uses()) {
        Node n = u.node();
        while (n.graph() != g) n = holders.get(n.graph());
        if (merges.contains(n) || !out.add(n)) continue;
        todo.addAll(n.outputs());
      }
    }
    return out;
  }

  /** Each nested graph below {@code g} → the node of its parent graph holding it. */
  private static Map<Graph, Node> holders(Graph g) {
    Map<Graph, Node> h = new IdentityHashMap<>();
    for (Node n : g.allNodes()) {
      for (Attr a : n.attrs().values()) if (a instanceof Attr.GraphVal sub) h.put(sub.value(), n);
    }
    return h;
  }

  /**
   * Which Switch sides each value depends on, through the inputs of nodes in {@code g} and the outer values their
   * nested graphs read. Memoized; iterative, for deep graphs.
   */
  private static final class Dependencies {
    private final Graph g;
    private final Map<Value, Set<Side>> memo = new IdentityHashMap<>();
    private final Map<Node, List<Value>> outerReads = new IdentityHashMap<>();

    Dependencies(Graph g) {
      this.g = g;
    }

    Set<Side> of(Value root) {
      Deque<Value> stack = new ArrayDeque<>();
      stack.push(root);
      while (!stack.isEmpty()) {
        Value v = stack.peek();
        if (memo.containsKey(v)) {
          stack.pop();
          continue;
        }
        Node p = v.producer();
        if (p == null || p.graph() != g) {
          memo.put(v, Set.of());
          stack.pop();
          continue;
        }
        List<Value> ins = inputsOf(p);
        boolean ready = true;
        for (Value in : ins) {
          if (!memo.containsKey(in)) {
            stack.push(in);
            ready = false;
          }
        }
        if (!ready) continue;
        stack.pop();
        memo.put(v, union(ins, TfNodes.isTf(p, "Switch") ? new Side(p.input(1), v.outputIndex()) : null));
      }
      return memo.get(root);
    }

    /** The inputs' sides plus {@code extra}; shares an input's set when nothing is added (long chains stay cheap). */
    private Set<Side> union(List<Value> ins, Side extra) {
      Set<Side> s = Set.of();
      boolean owned = false;
      for (Value in : ins) {
        Set<Side> x = memo.get(in);
        if (x.isEmpty() || x == s || s.containsAll(x)) continue;
        if (s.isEmpty()) {
          s = x;
          continue;
        }
        if (!owned) {
          s = new HashSet<>(s);
          owned = true;
        }
        s.addAll(x);
      }
      if (extra != null && !s.contains(extra)) {
        s = new HashSet<>(s);
        s.add(extra);
      }
      return s;
    }

    private List<Value> inputsOf(Node p) {
      return outerReads.computeIfAbsent(p, k -> {
        List<Value> l = new ArrayList<>();
        for (Value in : k.inputs()) if (in != null) l.add(in);
        for (Attr a : k.attrs().values()) if (a instanceof Attr.GraphVal sub) collectOuter(sub.value(), l);
        return l;
      });
    }

    private void collectOuter(Graph sub, List<Value> l) {
      for (Node n : sub.allNodes()) {
        for (Value in : n.inputs()) if (in != null && in.producer() != null && in.producer().graph() == g) l.add(in);
      }
    }
  }
}
