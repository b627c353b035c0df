package returnn.onnx.rewrite.pattern;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;

/**
 * Matches a {@link Pattern} against a value by walking producers backwards. Alternatives ({@link Pattern#either},
 * commuted inputs) backtrack fully: when a later part of the pattern fails, earlier choices are revisited. Ops that only
 * pass a value through (TF Identity, ReadVariableOp, IdentityN ...; ONNX Identity) are looked through, so bound values
 * are the underlying ones, e.g. the checkpoint constant behind a ReadVariableOp.
 *
 * <p>A failed match reports the reason of the attempt that got furthest ("input 1 of 'att/energy_masked' (SelectV2):
 * expected BatchMatMulV2, found 'att/add' (AddV2)") and whether it got past an {@link Pattern.Op#anchor() anchor}.
 */
public final class Matcher {
  private static final Set<String> TF_PASS_THROUGH =
      Set.of("Identity", "ReadVariableOp", "Snapshot", "StopGradient", "PreventGradient", "IdentityN");

  private final String dialect;

  /** A matcher for patterns over nodes of {@code dialect} ({@link Node#TF} or {@link Node#ONNX}). */
  public Matcher(String dialect) {
    this.dialect = dialect;
  }

  /** A match, or the reason of the most advanced failed attempt and whether it had reached an anchor. */
  public record Result(Match match, String reason, boolean anchored) {
    public boolean matched() {
      return match != null;
    }
  }

  public Result match(Pattern p, Value v) {
    Attempt a = new Attempt();
    if (a.match(p, v, "root", () -> true)) return new Result(new Match(v, a.values, a.nodes, a.matched), null, true);
    return new Result(null, a.reason, a.anchored);
  }

  /** The value behind pass-through ops (TF Identity/ReadVariableOp/IdentityN/..., ONNX Identity). */
  public static Value resolve(Value v) {
    while (v != null && v.producer() != null) {
      Node p = v.producer();
      boolean tf = p.domain().equals(Node.TF) && TF_PASS_THROUGH.contains(p.op());
      if (!tf && !p.isOnnx("Identity")) break;
      v = p.op().equals("IdentityN") ? p.input(v.outputIndex()) : p.input(0);
    }
    return v;
  }

  /**
   * The constant behind a TF1 loop's {@code Enter(is_constant=true)} (how a while-loop body reads a weight, e.g. the
   * gamma of a layer norm inside RETURNN's LayerNormVariantsLSTMCell): the same value in every iteration, so a constant
   * pattern may take it; anything else unchanged. Only constants pass: a rewrite inside the frame may read a constant
   * directly, but a non-constant outer value must keep its Enter.
   */
  static Value loopInvariant(Value v) {
    Node p = v.producer();
    if (p == null || !p.is(Node.TF, "Enter") || !p.boolAttr("is_constant", false)) return v;
    Value outer = resolve(p.input(0));
    return outer != null && outer.isConstant() ? outer : v;
  }

  /** What remains to be matched after the current part. */
  private interface Rest {
    boolean run();
  }

  private record Mark(int values, int nodes, int matched) {}

  /** The state of one match: bindings with an undo trail, and the best failure so far. */
  private final class Attempt {
    final Map<String, Value> values = new HashMap<>();
    final Map<String, Node> nodes = new HashMap<>();
    final List<String> valueOrder = new ArrayList<>();
    final List<String> nodeOrder = new ArrayList<>();
    final List<Node> matched = new ArrayList<>();
    String reason = "no candidate";
    int bestDepth = -1;
    boolean anchored;

    Mark mark() {
      return new Mark(valueOrder.size(), nodeOrder.size(), matched.size());
    }

    void undo(Mark m) {
      while (valueOrder.size() > m.values()) values.remove(valueOrder.remove(valueOrder.size() - 1));
      while (nodeOrder.size() > m.nodes()) nodes.remove(nodeOrder.remove(nodeOrder.size() - 1));
      while (matched.size() > m.matched()) matched.remove(matched.size() - 1);
    }

    boolean fail(String where, String why) {
      if (matched.size() >= bestDepth) {
        bestDepth = matched.size();
        reason = where + ": " + why;
      }
      return false;
    }

    boolean match(Pattern p, Value raw, String where, Rest rest) {
      Value v = resolve(raw);
      if (v == null) return p instanceof Pattern.Any a && a.name == null ? rest.run() : fail(where, "input is absent");
      if (p instanceof Pattern.Any a) return bind(a.name, v, where, rest);
      if (p instanceof Pattern.Const c) {
        v = loopInvariant(v);
        if (!v.isConstant()) return fail(where, "expected " + c.description + ", found " + describe(v));
        if (!c.test.test(v.constant())) return fail(where, "expected " + c.description + ", found " + v.constant());
        return bind(c.name, v, where, rest);
      }
      if (p instanceof Pattern.Either e) {
        for (Pattern alt : e.alternatives) {
          Mark m = mark();
          if (match(alt, v, where, rest)) return true;
          undo(m);
        }
        return false;
      }
      return matchOp((Pattern.Op) p, v, where, rest);
    }

    private boolean bind(String name, Value v, String where, Rest rest) {
      if (name == null) return rest.run();
      Value old = values.get(name);
      if (old != null) {
        return old == v ? rest.run() : fail(where, "'" + name + "' would be both " + describe(old) + " and " + describe(v));
      }
      values.put(name, v);
      valueOrder.add(name);
      if (rest.run()) return true;
      values.remove(name);
      valueOrder.remove(valueOrder.size() - 1);
      return false;
    }

    private boolean matchOp(Pattern.Op p, Value v, String where, Rest rest) {
      Node n = v.producer();
      if (n == null || !n.domain().equals(dialect) || !p.types.contains(n.op())) {
        return fail(where, "expected " + p.typeNames() + ", found " + describe(v));
      }
      if (v.outputIndex() != p.output) {
        return fail(where, "expected output " + p.output + " of " + n.describe() + ", found output " + v.outputIndex());
      }
      for (Pattern.Condition c : p.conditions) {
        if (!c.test().test(n)) return fail(n.describe(), "expected " + c.expects());
      }
      if (p.bind != null && nodes.containsKey(p.bind)) {
        // Bound before: its inputs have been matched already.
        Node old = nodes.get(p.bind);
        return old == n ? rest.run() : fail(where, "'" + p.bind + "' would be both " + old.describe() + " and " + n.describe());
      }
      if (n.inputs().size() < p.inputs.size()) {
        return fail(n.describe(), "expected at least " + p.inputs.size() + " inputs");
      }
      Mark before = mark();
      if (p.bind != null) {
        nodes.put(p.bind, n);
        nodeOrder.add(p.bind);
      }
      matched.add(n);
      if (p.anchor) anchored = true;
      List<Value> in = n.inputs().subList(0, p.inputs.size());
      Mark inner = mark();
      boolean ok = inputs(p.inputs, in, n, 0, false, rest);
      if (!ok && p.commutative && in.size() >= 2) {
        undo(inner);
        ok = inputs(p.inputs, in, n, 0, true, rest);
      }
      if (!ok) undo(before);
      return ok;
    }

    /** Matches patterns {@code i..} against the node's inputs; {@code swapped} exchanges inputs 0 and 1. */
    private boolean inputs(List<Pattern> ps, List<Value> vs, Node n, int i, boolean swapped, Rest rest) {
      if (i == ps.size()) return rest.run();
      int k = swapped && i < 2 ? 1 - i : i;
      return match(ps.get(i), vs.get(k), "input " + k + " of " + n.describe(), () -> inputs(ps, vs, n, i + 1, swapped, rest));
    }
  }

  static String describe(Value v) {
    if (v.producer() != null) return v.producer().describe() + (v.outputIndex() > 0 ? " output " + v.outputIndex() : "");
    if (v.isConstant()) return "constant '" + v.name() + "' " + java.util.Arrays.toString(v.constant().shape());
    return "graph input '" + v.name() + "'";
  }
}
