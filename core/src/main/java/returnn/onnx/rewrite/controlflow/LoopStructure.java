package returnn.onnx.rewrite.controlflow;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * What one TF1 while-loop frame is made of, as {@code control_flow_ops.while_loop} builds it: per loop variable
 * {@code Enter → Merge ← NextIteration}, {@code Switch(Merge, LoopCond)}, {@code Identity(Switch:1)} for the body,
 * {@code Exit(Switch:0)}; loop-constant Enters; the condition's nodes between the Merges and {@code LoopCond}; and which
 * variables are TensorArray flows written once per iteration at the iteration number (or a count-down). Fails naming
 * the frame and the node when the frame has another shape.
 */
final class LoopStructure {
  final Graph g;
  final Frames frames;
  final Frames.Frame frame;

  /** One loop variable: {@code Enter → Merge ← NextIteration}, {@code Switch(Merge, LoopCond)}, Exits. */
  static final class LoopVar {
    final Node enter;
    Node merge;
    Node next;
    Node sw;
    final List<Node> exits = new ArrayList<>();
    DType type;
    Value bodyInput;
    /** Non-null: a TensorArray flow, written once per iteration by this node. */
    Node write;
    /**
     * Non-null for a write at a count-down index: the loop variable counting down by 1 that is the write's index (so
     * iteration {@code j} writes element {@code init - j}); null for a write at the iteration number.
     */
    LoopVar countdown;

    LoopVar(Node enter) {
      this.enter = enter;
    }

    /** What the body sees of this variable (the Switch's true output), or null if nothing uses it. */
    Value bodyView() {
      return TfNodes.output(sw, 1);
    }
  }

  final List<LoopVar> vars = new ArrayList<>();
  final List<Node> invariants = new ArrayList<>();
  final Set<Node> controlNodes = Collections.newSetFromMap(new IdentityHashMap<>());
  Node loopCond;
  final List<Node> condNodes = new ArrayList<>();

  private LoopStructure(Graph g, Frames frames, Frames.Frame frame) {
    this.g = g;
    this.frames = frames;
    this.frame = frame;
  }

  static LoopStructure of(Graph g, Frames frames, Frames.Frame frame) {
    LoopStructure s = new LoopStructure(g, frames, frame);
    s.findLoopVariables();
    s.findCondition();
    s.findTensorArrayWrites();
    return s;
  }

  /** The frame's nodes still in the top-level graph (converted inner loops moved theirs into bodies). */
  List<Node> liveNodes() {
    List<Node> l = new ArrayList<>();
    for (Node n : frame.nodes) if (n.graph() == g) l.add(n);
    return l;
  }

  private void findLoopVariables() {
    for (Node n : liveNodes()) {
      if (TfNodes.isTf(n, "Enter")) {
        if (n.boolAttr("is_constant", false)) invariants.add(n);
        else vars.add(new LoopVar(n));
      } else if (TfNodes.isTf(n, "LoopCond")) {
        if (loopCond != null) throw ConversionErrors.inLoop(frame.name, n, "is a second LoopCond in the frame");
        loopCond = n;
      }
    }
    if (loopCond == null) throw ConversionErrors.inLoop(frame.name, null, "the frame has no LoopCond node");
    if (vars.isEmpty()) throw ConversionErrors.inLoop(frame.name, loopCond, "the loop has no loop variables");
    Value pred = loopCond.output(0);
    for (LoopVar v : vars) {
      List<Value.Use> uses = TfNodes.uses(TfNodes.output(v.enter, 0));
      if (uses.size() != 1 || !TfNodes.isTf(uses.get(0).node(), "Merge")) {
        throw ConversionErrors.inLoop(frame.name, v.enter, "is a loop variable's Enter that does not feed exactly one Merge");
      }
      v.merge = uses.get(0).node();
      for (Value in : v.merge.inputs()) if (TfNodes.producedBy(in, "NextIteration")) v.next = in.producer();
      if (v.merge.inputs().size() != 2 || v.next == null) {
        throw ConversionErrors.inLoop(frame.name, v.merge, "does not merge its Enter with a NextIteration");
      }
      if (!TfNodes.uses(TfNodes.output(v.merge, 1)).isEmpty()) {
        throw ConversionErrors.inLoop(frame.name, v.merge, "has its value_index output used");
      }
      for (Value.Use u : TfNodes.uses(v.merge.output(0))) {
        if (TfNodes.isTf(u.node(), "Switch") && u.node().input(1) == pred) {
          if (v.sw != null) throw ConversionErrors.inLoop(frame.name, v.merge, "feeds two loop Switches");
          v.sw = u.node();
        }
      }
      if (v.sw == null) throw ConversionErrors.inLoop(frame.name, v.merge, "feeds no Switch on the LoopCond");
      for (Value.Use u : TfNodes.uses(TfNodes.output(v.sw, 0))) {
        if (!TfNodes.isTf(u.node(), "Exit")) {
          throw ConversionErrors.inLoop(frame.name, u.node(), "uses the exit side of loop Switch '" + v.sw.tfName() + "'");
        }
        v.exits.add(u.node());
      }
      v.type = TfNodes.type(v.merge, "T");
      controlNodes.addAll(List.of(v.enter, v.merge, v.next, v.sw));
      controlNodes.addAll(v.exits);
    }
    controlNodes.addAll(invariants);
    controlNodes.add(loopCond);
    for (Node n : liveNodes()) {
      if (!controlNodes.contains(n) && (TfNodes.isTf(n, "Exit") || TfNodes.isTf(n, "NextIteration")
          || TfNodes.isTf(n, "Enter") || TfNodes.isTf(n, "LoopCond"))) {
        throw ConversionErrors.inLoop(frame.name, n, "is loop control flow that matches no loop variable");
      }
    }
  }

  /** The nodes computing the predicate from the Merges and loop constants, in topological order. */
  private void findCondition() {
    Set<Node> stops = Collections.newSetFromMap(new IdentityHashMap<>());
    for (LoopVar v : vars) stops.add(v.merge);
    stops.addAll(invariants);
    addCondition(condProducer(loopCond.input(0), stops), stops, Collections.newSetFromMap(new IdentityHashMap<>()));
  }

  /** Post-order from the predicate back to the Merges: inputs before their users. Conditions are a few nodes deep. */
  private void addCondition(Node n, Set<Node> stops, Set<Node> seen) {
    if (n == null || !seen.add(n)) return;
    for (Value in : n.inputs()) addCondition(condProducer(in, stops), stops, seen);
    if (TfNodes.isTf(n, "Switch") || TfNodes.isTf(n, "Merge") || TensorArrays.isOp(n)
        || n.attrs().values().stream().anyMatch(a -> a instanceof Attr.GraphVal)) {
      throw ConversionErrors.inLoop(frame.name, n, "is part of the loop condition; only plain computations "
          + "(no nested control flow or TensorArrays) are supported there");
    }
    condNodes.add(n);
  }

  /** The producer of a condition input if it is a condition node of this frame (not a Merge, loop constant or outer). */
  private Node condProducer(Value v, Set<Node> stops) {
    Node p = v == null ? null : v.producer();
    if (p == null || p.graph() != g || frames.frameOf(p) != frame || stops.contains(p)) return null;
    return p;
  }

  /** TensorArray flows among the loop variables: each must be written exactly once, at the iteration number. */
  private void findTensorArrayWrites() {
    for (LoopVar v : vars) {
      Value next = TfNodes.skipIdentity(v.next.input(0));
      if (!TfNodes.producedBy(next, "TensorArrayWriteV3")) continue;
      Node w = next.producer();
      if (TfNodes.skipIdentity(w.input(3)) != v.bodyView()) {
        throw ConversionErrors.inLoop(frame.name, w, "is not the only write to its TensorArray in an iteration");
      }
      for (Node user : flowUsers(v.bodyView())) {
        if (user != w) {
          throw ConversionErrors.inLoop(frame.name, user, "uses a TensorArray the loop is writing; only one write per "
              + "iteration and reads after the loop are supported");
        }
      }
      Node array = TensorArrays.arrayOf(w.input(0));
      if (array == null) {
        throw ConversionErrors.inLoop(frame.name, w, "writes to something that is not a TensorArrayV3 handle");
      }
      if (TensorArrays.source(v.enter.input(0)) != TfNodes.output(array, 1)) {
        throw ConversionErrors.inLoop(frame.name, w, "writes to a TensorArray that already holds elements; only a "
            + "fresh array, filled by the loop, is supported");
      }
      if (!isIterationNumber(w.input(1))) {
        v.countdown = countdownAt(w.input(1));
        if (v.countdown == null) {
          throw ConversionErrors.inLoop(frame.name, w, "writes at an index that is not the iteration number (a loop "
              + "variable starting at 0 and incremented by 1) nor a loop variable decremented by 1 per iteration "
              + "(RETURNN's search resolve loop); only such writes become ONNX scan outputs");
        }
      }
      v.write = w;
    }
  }

  /** Nodes using a flow value, seen through Identity. */
  private static List<Node> flowUsers(Value flow) {
    List<Node> users = new ArrayList<>();
    for (Value.Use u : TfNodes.uses(flow)) {
      if (TfNodes.isTf(u.node(), "Identity")) users.addAll(flowUsers(u.node().output(0)));
      else users.add(u.node());
    }
    return users;
  }

  /** {@code index} is the body view of a loop variable that starts at 0 and grows by 1 per iteration. */
  private boolean isIterationNumber(Value index) {
    Value x = TfNodes.skipIdentity(index);
    for (LoopVar c : vars) if (c.bodyView() != null && x == c.bodyView() && isCounter(c)) return true;
    return false;
  }

  /** The loop variable whose body view {@code index} is, if it is decremented by 1 per iteration; else null. */
  private LoopVar countdownAt(Value index) {
    Value x = TfNodes.skipIdentity(index);
    for (LoopVar c : vars) if (c.bodyView() != null && x == c.bodyView() && isCountdown(c)) return c;
    return null;
  }

  /** {@code c} is {@code Sub(c, 1)} or {@code Add(c, -1)} in the next iteration (any start). */
  private static boolean isCountdown(LoopVar c) {
    Value next = TfNodes.skipIdentity(c.next.input(0));
    Node op = next == null ? null : next.producer();
    if (TfNodes.isTf(op, "Sub")) {
      Tensor one = op.input(1).constant();
      return TfNodes.skipIdentity(op.input(0)) == c.bodyView() && one != null && one.size() == 1 && one.getLong(0) == 1;
    }
    if (TfNodes.isTf(op, "AddV2") || TfNodes.isTf(op, "Add")) {
      for (int i = 0; i < 2; i++) {
        Tensor m = op.input(1 - i).constant();
        if (TfNodes.skipIdentity(op.input(i)) == c.bodyView() && m != null && m.size() == 1 && m.getLong(0) == -1) {
          return true;
        }
      }
    }
    return false;
  }

  static boolean isCounter(LoopVar c) {
    Tensor init = c.enter.input(0).constant();
    if (init == null || init.size() != 1 || init.getLong(0) != 0) return false;
    Value next = TfNodes.skipIdentity(c.next.input(0));
    if (!TfNodes.producedBy(next, "AddV2") && !TfNodes.producedBy(next, "Add")) return false;
    Node add = next.producer();
    for (int i = 0; i < 2; i++) {
      Tensor one = add.input(1 - i).constant();
      if (TfNodes.skipIdentity(add.input(i)) == c.bodyView() && one != null && one.size() == 1 && one.getLong(0) == 1) {
        return true;
      }
    }
    return false;
  }

  /** The counter variable this condition input compares, if it is {@code Less(counter, bound)}; else null. */
  LoopVar counterCompared(Node less) {
    for (LoopVar c : vars) if (c.write == null && less.input(0) == c.merge.output(0) && isCounter(c)) return c;
    return null;
  }
}
