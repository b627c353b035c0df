package returnn.onnx.rewrite.lstm;

import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * A rule that turns a Loop (a TF while loop) whose body is one recurrent cell step into one ONNX recurrent node. The
 * check finds a match, or says why not: a decline while the body is not (yet) known to be the cell, a warning once it
 * is ("an LSTM stays a Loop"), since then the user loses a fusion they would expect.
 *
 * @param <M> what a match carries to the rewrite
 */
abstract class LoopCellRule<M> extends NodeRule {
  /** What a check found: {@code match}, or {@code reason}; {@code cell}: the body is the cell (warn, not decline). */
  record Check<M>(M match, String reason, boolean cell) {
    static <M> Check<M> no(String reason) {
      return new Check<>(null, reason, false);
    }

    static <M> Check<M> warn(String reason) {
      return new Check<>(null, reason, true);
    }

    static <M> Check<M> of(M match) {
      return new Check<>(match, null, false);
    }
  }

  LoopCellRule(String name) {
    super(name, false);
  }

  abstract Check<M> check(Node loop, Graph body);

  abstract void rewrite(Graph g, RuleContext ctx, Node loop, M match);

  @Override
  protected boolean visit(Graph g, Node n, RuleContext ctx) {
    if (!n.isOnnx("Loop") || !(n.attr("body") instanceof Attr.GraphVal body)) return false;
    Check<M> c = check(n, body.value());
    if (c.match() == null) {
      if (c.cell()) {
        ctx.warn(name(), n.describe(), c.reason());
      } else {
        ctx.decline(name(), n.describe(), c.reason());
      }
      return false;
    }
    rewrite(g, ctx, n, c.match());
    return true;
  }
}
