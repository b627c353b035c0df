package returnn.onnx.rewrite.controlflow;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;

/**
 * The TF1 while-loop frames of a graph and the frame every node runs in, recovered the way TF's executor assigns them:
 * {@code Enter} opens the frame named by its {@code frame_name}, {@code Exit} leaves it, every other node runs in the
 * frame of its inputs. The importer drops control edges, so a Const inside a loop (tied to it only by a control input on
 * the loop's pivot) lands in the root frame; that is harmless, since the loop body then reads it as an outer value.
 * A frame's parent is the frame its Enters' inputs come from, so nested loops nest.
 */
final class Frames {
  /** One while loop: its frame name, enclosing frame (null: the root) and the nodes running in it. */
  static final class Frame {
    final String name;
    Frame parent;
    final List<Node> nodes = new ArrayList<>();

    Frame(String name) {
      this.name = name;
    }

    int depth() {
      int d = 0;
      for (Frame f = parent; f != null; f = f.parent) {
        if (++d > 10_000) throw new ConversionException("while loop frame '" + name + "' is nested in itself");
      }
      return d;
    }

    /** The loop's name scope ({@code lstm0/rec/rnn/while} of frame {@code lstm0/rec/rnn/while/while_context}). */
    String scope() {
      return name.endsWith("/while_context") ? name.substring(0, name.length() - "/while_context".length()) : name;
    }

    @Override
    public String toString() {
      return name;
    }
  }

  private final Map<Node, Frame> frameOf = new IdentityHashMap<>();
  private final Map<String, Frame> byName = new LinkedHashMap<>();

  private Frames() {}

  /** The frames of {@code g}'s top level (empty when it has no Enter). */
  static Frames of(Graph g) {
    Frames f = new Frames();
    boolean any = false;
    for (Node n : g.nodes()) any |= TfNodes.isTf(n, "Enter");
    if (!any) return f;
    List<Node> order = orderIgnoringBackEdges(g);
    for (int round = 0; round < 100; round++) {
      f.assign(order);
      if (!f.updateParents()) {
        for (Node n : order) {
          Frame fr = f.frameOf.get(n);
          if (fr != null) fr.nodes.add(n);
        }
        return f;
      }
    }
    throw new ConversionException("while loop frames do not settle (Enter nodes of one frame in several parents)");
  }

  /** All frames, innermost first (so a loop nested in another is converted before it). */
  List<Frame> innermostFirst() {
    List<Frame> l = new ArrayList<>(byName.values());
    l.sort(Comparator.comparingInt(Frame::depth).reversed());
    return l;
  }

  /** The frame {@code n} runs in, null for the root. */
  Frame frameOf(Node n) {
    return frameOf.get(n);
  }

  /** Records that a node a rule created runs in {@code f} (null: root). */
  void assign(Node n, Frame f) {
    if (f == null) return;
    frameOf.put(n, f);
    f.nodes.add(n);
  }

  private void assign(List<Node> order) {
    frameOf.clear();
    for (Node n : order) {
      Frame f;
      if (TfNodes.isTf(n, "Enter")) {
        String name = n.stringAttr("frame_name", "");
        f = byName.computeIfAbsent(name, Frame::new);
      } else if (TfNodes.isTf(n, "Exit")) {
        f = n.input(0) == null || n.input(0).producer() == null ? null : frameOf.get(n.input(0).producer());
        if (f == null) throw ConversionErrors.at(n, "is an Exit outside of any while loop");
      } else {
        f = null;
        for (Value v : n.inputs()) {
          if (v == null || (TfNodes.isTf(n, "Merge") && TfNodes.producedBy(v, "NextIteration"))) continue;
          f = deeper(n, f, outFrame(v));
        }
      }
      if (f != null) frameOf.put(n, f);
    }
  }

  /** The frame a value lives in: an Exit's output is in the loop's parent frame. */
  private Frame outFrame(Value v) {
    Node p = v.producer();
    if (p == null) return null;
    Frame f = frameOf.get(p);
    return TfNodes.isTf(p, "Exit") && f != null ? f.parent : f;
  }

  private static Frame deeper(Node n, Frame a, Frame b) {
    if (a == null || a == b) return b == null ? a : b;
    if (b == null) return a;
    for (Frame x = a; x != null; x = x.parent) if (x == b) return a;
    for (Frame x = b; x != null; x = x.parent) if (x == a) return b;
    throw ConversionErrors.at(n, "uses values of two unrelated while loops ('" + a + "' and '" + b + "')");
  }

  /** Sets each frame's parent from its Enters' inputs; true if any changed. */
  private boolean updateParents() {
    Map<Frame, Frame> parents = new IdentityHashMap<>();
    for (Map.Entry<Node, Frame> e : frameOf.entrySet()) {
      Node n = e.getKey();
      if (!TfNodes.isTf(n, "Enter") || n.input(0) == null) continue;
      Frame from = outFrame(n.input(0));
      Frame f = e.getValue();
      parents.put(f, deeper(n, parents.get(f), from == f ? null : from));
    }
    boolean changed = false;
    for (Frame f : byName.values()) {
      Frame p = parents.get(f);
      if (p != f.parent) {
        f.parent = p;
        changed = true;
      }
    }
    return changed;
  }

  /** Kahn's order of the top-level nodes, not counting Merge inputs that come from NextIteration (loop back edges). */
  private static List<Node> orderIgnoringBackEdges(Graph g) {
    Map<Node, Integer> pending = new IdentityHashMap<>();
    Map<Node, List<Node>> users = new IdentityHashMap<>();
    for (Node n : g.nodes()) {
      int deps = 0;
      for (Value v : n.inputs()) {
        if (v == null || v.producer() == null || v.producer().graph() != g) continue;
        if (TfNodes.isTf(n, "Merge") && TfNodes.producedBy(v, "NextIteration")) continue;
        deps++;
        users.computeIfAbsent(v.producer(), k -> new ArrayList<>()).add(n);
      }
      pending.put(n, deps);
    }
    Deque<Node> ready = new ArrayDeque<>();
    for (Node n : g.nodes()) if (pending.get(n) == 0) ready.add(n);
    List<Node> order = new ArrayList<>();
    while (!ready.isEmpty()) {
      Node n = ready.poll();
      order.add(n);
      for (Node u : users.getOrDefault(n, List.of())) if (pending.merge(u, -1, Integer::sum) == 0) ready.add(u);
    }
    if (order.size() != g.nodes().size()) {
      throw new ConversionException("the graph has a cycle that is not a TF1 while loop (Merge ← NextIteration)");
    }
    return order;
  }
}
