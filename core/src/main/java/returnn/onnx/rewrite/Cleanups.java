package returnn.onnx.rewrite;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;

/** Cleanups after legalization: identities, transpose pairs that cancel, dead nodes. */
public final class Cleanups {
  private Cleanups() {}

  public static List<Rule> all() {
    return List.of(REMOVE_IDENTITY, CANCEL_TRANSPOSES, COMMON_SUBEXPRESSIONS, DEAD_CODE);
  }

  /** Identity nodes whose output is not a graph output: consumers use the input directly. */
  public static final Rule REMOVE_IDENTITY = new Rule() {
    public String name() {
      return "Cleanups.REMOVE_IDENTITY";
    }

    public int apply(Graph g, RuleContext ctx) {
      int n = 0;
      for (Node node : new ArrayList<>(g.nodes())) {
        if (!node.isOnnx("Identity") || node.output(0).isGraphOutput()) continue;
        g.replaceAllUses(node.output(0), node.input(0));
        g.removeNode(node);
        n++;
      }
      return n;
    }
  };

  /** Transpose(Transpose(x, p), q) with q∘p the identity becomes x; otherwise one Transpose with the composed perm. */
  public static final Rule CANCEL_TRANSPOSES = new Rule() {
    public String name() {
      return "Cleanups.CANCEL_TRANSPOSES";
    }

    public int apply(Graph g, RuleContext ctx) {
      int n = 0;
      for (Node outer : new ArrayList<>(g.nodes())) {
        if (outer.graph() == null || !outer.isOnnx("Transpose")) continue;
        Value mid = outer.input(0);
        Node inner = mid.producer();
        if (inner == null || !inner.isOnnx("Transpose") || inner.graph() != g) continue;
        long[] p = inner.intsAttr("perm");
        long[] q = outer.intsAttr("perm");
        if (p == null || q == null || p.length != q.length) continue;
        long[] composed = new long[q.length];
        boolean identity = true;
        for (int i = 0; i < q.length; i++) {
          composed[i] = p[(int) q[i]];
          if (composed[i] != i) identity = false;
        }
        if (identity && !outer.output(0).isGraphOutput()) {
          g.replaceAllUses(outer.output(0), inner.input(0));
          g.removeNode(outer);
        } else {
          outer.set("perm", new returnn.onnx.ir.Attr.Ints(composed));
          g.setInput(outer, 0, inner.input(0));
        }
        if (mid.useCount() == 0) g.removeNode(inner);
        n++;
      }
      return n;
    }
  };

  public static final Rule COMMON_SUBEXPRESSIONS = new CommonSubexpressions();

  public static final Rule DEAD_CODE = new Rule() {
    public String name() {
      return "Cleanups.DEAD_CODE";
    }

    public int apply(Graph g, RuleContext ctx) {
      g.removeDeadNodes();
      return 0; // removing dead nodes never enables another rule's match, so it does not count as firing
    }
  };
}
