package returnn.onnx.rewrite.pattern;

import java.util.ArrayList;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.rewrite.Rule;
import returnn.onnx.rewrite.RuleContext;

/**
 * A rule made of a pattern, a check that gives a reason when it declines a match, and a rewrite. Every node of the
 * root op's type is a candidate; the rule reports a decline for a check that fails and for a match that failed after
 * reaching an {@link Pattern.Op#anchor() anchor}. After rewriting, nodes nothing uses any more are removed.
 *
 * <pre>{@code
 * static final Rule SCALE = new PatternRule("Norm.SCALE", Node.TF,
 *     Pattern.op("Mul", Pattern.any("x"), Pattern.constant("s")).commutative(),
 *     (m, ctx) -> m.constant("s").size() == 1 ? null : "scale is not a scalar",
 *     (m, g, ctx) -> ...);
 * }</pre>
 */
public final class PatternRule implements Rule {
  /** Why a match cannot be rewritten (for the target opset in {@code ctx}), or null to accept it. */
  @FunctionalInterface
  public interface Check {
    String reason(Match m, RuleContext ctx);
  }

  /** Rewrites an accepted match (typically: build the replacement, then replace all uses of the root). */
  @FunctionalInterface
  public interface Rewrite {
    void apply(Match m, Graph g, RuleContext ctx);
  }

  private final String name;
  private final String dialect;
  private final Pattern.Op root;
  private final Check check;
  private final Rewrite rewrite;

  /** A rule over nodes of {@code dialect} ({@link Node#TF} before legalization, {@link Node#ONNX} after). */
  public PatternRule(String name, String dialect, Pattern.Op root, Check check, Rewrite rewrite) {
    this.name = name;
    this.dialect = dialect;
    this.root = root;
    this.check = check;
    this.rewrite = rewrite;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public int apply(Graph g, RuleContext ctx) {
    Matcher matcher = new Matcher(dialect);
    int fired = 0;
    for (Node n : new ArrayList<>(g.nodes())) {
      if (n.graph() != g || !n.domain().equals(dialect) || !root.types.contains(n.op())) continue;
      if (n.outputs().size() <= root.output) continue;
      Matcher.Result r = matcher.match(root, n.output(root.output));
      if (!r.matched()) {
        if (r.anchored()) ctx.decline(name, n.describe(), r.reason());
        continue;
      }
      String reason = check.reason(r.match(), ctx);
      if (reason != null) {
        ctx.decline(name, n.describe(), reason);
        continue;
      }
      rewrite.apply(r.match(), g, ctx);
      fired++;
    }
    if (fired > 0) g.removeDeadNodes();
    return fired;
  }

  @Override
  public String toString() {
    return name;
  }
}
