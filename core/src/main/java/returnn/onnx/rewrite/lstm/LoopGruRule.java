package returnn.onnx.rewrite.lstm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.RuleContext;

/**
 * {@code dynamic_rnn} loops of TF's {@code GRUCell} or TF1's {@code GRUBlockCell} ({@link LoopGruCell}) → one ONNX
 * {@code GRU} ({@code linear_before_reset = 0}), with or without {@code sequence_length}, the loop recognised by
 * dataflow as in {@link LoopLstmRule} with one carried state h: a time variable {@code t} from 0 by 1, the input read as
 * {@code Gather(x, t)}, and either {@code dynamic_rnn}'s masking ({@code copy = t >= L}: output
 * {@code Select(copy, 0, h')}, state {@code Select(copy, h, h')}; GRU {@code sequence_lens = L}, a ReverseSequence pair
 * {@code direction=reverse}) or none (output h', state h'; no {@code sequence_lens}). A given initial state becomes
 * initial_h (and is kept for an empty sequence, as TF keeps it, where ONNX Runtime's Y_h is zeros). Once the body is
 * a GRU step writing its h, a mismatch elsewhere is a warning: a GRU stays a Loop.
 */
final class LoopGruRule extends LoopCellRule<LoopGruRule.Match> {
  static final String NAME = "LstmRules.LOOP_GRU";

  record Match(LoopGruCell cell, Value lengths, int hSlot, Value x, boolean reverse, Node padding, Node outReverse) {}

  LoopGruRule() {
    super(NAME);
  }

  /** Once the body is a GRU step: a mismatch elsewhere is a warning. */
  private static Check<Match> gru(String reason) {
    return Check.warn("a dynamic_rnn GRU stays a Loop: " + reason);
  }

  @Override
  Check<Match> check(Node loop, Graph body) {
    int carried = loop.inputs().size() - 2;
    int scans = loop.outputs().size() - carried;
    if (carried < 2 || scans != 1) return Check.no("not a loop over (t, h) with one scan output");
    if (body.allNodes().size() != body.nodes().size()) return Check.no("the body holds nested graphs");
    Value element = LoopLstmRule.out(body, 1 + carried);
    Node select = TfPatterns.producer(element, "Select", "SelectV2");
    Value hNew = element;
    Value lengths = null;
    int tMask = -1;
    if (select != null) {
      Node copy = TfPatterns.producer(select.input(0), "GreaterEqual");
      if (!TfPatterns.isZeros(select.input(1)) || copy == null) return Check.no("the scan output is not Select(t >= L, 0, h')");
      hNew = select.input(2);
      tMask = LoopLstmRule.slotOf(body, copy.input(0));
      lengths = TfPatterns.skipIdentities(copy.input(1));
      if (tMask < 0 || lengths.producer() != null && lengths.producer().graph() == body) {
        return Check.no("the output mask is not t >= sequence_length with t carried and the lengths from outside");
      }
    }
    int hSlot = -1;
    for (int k = 0; k < carried && hSlot < 0; k++) {
      Value o = LoopLstmRule.out(body, 1 + k);
      if (select == null && TfPatterns.same(o, hNew)) hSlot = k;
      Node s = select == null ? null : TfPatterns.producer(o, "Select", "SelectV2");
      if (s != null && TfPatterns.same(s.input(0), select.input(0)) && TfPatterns.same(s.input(1), LoopLstmRule.in(body, k))
          && TfPatterns.same(s.input(2), hNew)) {
        hSlot = k;
      }
    }
    if (hSlot < 0) return Check.no("no carried h whose next value is the scan output's h'");
    LoopGruCell cell = LoopGruCell.match(hNew, LoopLstmRule.in(body, hSlot));
    if (cell == null) return Check.no("the body is not one GRU step (GRUCell or GRUBlockCell) over the carried h");
    for (int k = 0; k < carried; k++) {
      if (k != hSlot && !LoopLstmRule.counts(loop, body, k) && loop.output(k).useCount() > 0) {
        return gru("carried value " + k + " is neither t nor h and is used after the loop");
      }
    }
    Node gather = TfPatterns.skipIdentities(cell.xt()).producer();
    int tSlot = gather == null ? -1 : LoopLstmRule.slotOf(body, gather.input(1));
    if (gather == null || !gather.isOnnx("Gather") || gather.intAttr("axis", 0) != 0 || tSlot < 0
        || !LoopLstmRule.counts(loop, body, tSlot) || tMask >= 0 && tMask != tSlot) {
      return gru("the step input is not x[t] with t counting 0, 1, 2, ...");
    }
    if (!LoopLstmRule.boundedByMaxLength(loop, body, lengths)) {
      return gru("the loop bound is not dynamic_rnn's min(time_steps, max(1, max(sequence_length)))");
    }
    Node padding = LoopLstmRule.scanPadding(loop.output(carried));
    if (padding == null) return gru("the scan output is used other than as the padded array");
    Value x = gather.input(0);
    Node inReverse = lengths == null ? null : LoopLstmRule.reverseSequence(x, lengths);
    Node stack = LoopLstmRule.stackGather(padding);
    Node beforeReverse = stack != null ? stack : padding;
    Node outReverse = lengths != null && beforeReverse.output(0).uses().size() == 1 && !beforeReverse.output(0).isGraphOutput()
        ? LoopLstmRule.reverseSequence(beforeReverse.output(0).uses().get(0).node(), lengths) : null;
    if ((inReverse == null) != (outReverse == null)) return gru("ReverseSequence on one side of the loop only");
    if (inReverse != null) x = inReverse.input(0);
    return Check.of(new Match(cell, lengths, hSlot, x, inReverse != null, padding, outReverse));
  }

  @Override
  void rewrite(Graph g, RuleContext ctx, Node loop, Match m) {
    OnnxBuilder ob = new OnnxBuilder(g, ctx.opset(), loop.tfName(), loop.tfName());
    Value lengths = m.lengths() == null ? null : OnnxLstm.int32(ob, m.lengths());
    String direction = m.reverse() ? "reverse" : "forward";
    LoopGruCell cell = m.cell();
    Value h0 = loop.input(2 + m.hSlot());
    Value initH = OnnxLstm.initialState(ob, h0);
    List<Value> in = new ArrayList<>(Arrays.asList(m.x(), ob.constant(cell.w()), ob.constant(cell.r()),
        ob.constant(cell.b()), lengths, initH));
    while (in.get(in.size() - 1) == null) in.remove(in.size() - 1);
    Node gru = g.addNode(Node.ONNX, "GRU", loop.name() + "/GRU", loop.tfName(), in, 2);
    gru.set("hidden_size", new Attr.Int(cell.hidden()));
    gru.set("direction", new Attr.Str(direction));
    gru.set("linear_before_reset", new Attr.Int(0));
    Shape xs = m.x().shape();
    Dim t = xs.hasRank() && xs.rank() == 3 ? xs.dim(0) : Dim.UNKNOWN;
    Dim batch = xs.hasRank() && xs.rank() == 3 ? xs.dim(1) : Dim.UNKNOWN;
    OnnxLstm.typed(gru.output(0), Shape.of(t, Dim.of(1), batch, Dim.of(cell.hidden())));
    OnnxLstm.typed(gru.output(1), Shape.of(Dim.of(1), batch, Dim.of(cell.hidden())));
    Node y = m.outReverse() != null ? m.outReverse() : m.padding();
    g.replaceAllUses(y.output(0), OnnxLstm.timeMajor(ob, gru.output(0)));
    // Final state: an empty sequence (or time axis) keeps TF's initial state, where ONNX Runtime's Y_h is zeros.
    if (loop.output(m.hSlot()).useCount() > 0) {
      g.replaceAllUses(loop.output(m.hSlot()), lengths == null
          ? OnnxLstm.finalStateFullLength(ob, gru.output(1), m.x(), h0, initH)
          : OnnxLstm.finalState(ob, gru.output(1), lengths, h0, initH));
    }
    List<Node> roots = new ArrayList<>(List.of(y, m.padding(), loop));
    roots.addAll(LoopLstmRule.emptyBody(g, ((Attr.GraphVal) loop.attr("body")).value()));
    DeadNodes.removeFrom(g, roots);
    ctx.fused(NAME, "Loop " + loop.describe() + " → GRU " + direction + ", hidden " + cell.hidden() + " (" + cell.kind()
        + ", linear_before_reset 0)"
        + (m.lengths() == null ? ", full length (no sequence_length)" : ", sequence_lens from " + m.lengths().name()));
  }
}
