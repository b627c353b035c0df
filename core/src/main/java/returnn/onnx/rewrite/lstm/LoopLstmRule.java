package returnn.onnx.rewrite.lstm;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.RuleContext;

/**
 * {@code dynamic_rnn} loops of RETURNN's {@code vanillalstm}, {@code standardlstm} (TF {@code LSTMCell}) and
 * {@code lstmblock} (TF1 {@code LSTMBlockCell}, peepholes → P) → one ONNX
 * {@code LSTM}. Runs on the Loop the control-flow rules built (body still tf dialect) and recognises it by dataflow
 * only: a time variable {@code t} from 0 by 1, the input read as {@code Gather(x, t)}, one LSTM step
 * ({@link LoopLstmCell}) and {@code dynamic_rnn}'s masking {@code copy = t >= L}: output {@code Select(copy, 0, h')},
 * state {@code Select(copy, c, c')}, {@code Select(copy, h, h')}. That is what ONNX LSTM with {@code sequence_lens = L}
 * computes: zeros after each length, Y_h/Y_c the states at the last valid step. The loop must run at least
 * {@code max(L)} steps (its bound {@code min(T, max(1, max(L)))}); the steps after it are zeros in the padded scan
 * output, as in Y. ReverseSequence(·, L) on both sides (RETURNN's backward direction) becomes
 * {@code direction=reverse}, which reverses each sequence within its length the same way.
 *
 * <p>Initial states (zeros, or a given state as initial_h/initial_c, kept for an empty sequence as TF keeps it) are
 * taken over. Declines anything else (other carried values consumed after the loop, weights that are not constants, a differently bounded loop, an {@code LSTMBlockCell} clipping its cell state); the Loop then stays as
 * it is, exact.
 */
final class LoopLstmRule extends LoopCellRule<LoopLstmRule.Match> {
  static final String NAME = "LstmRules.LOOP_LSTM";

  /** The matched loop: carried slots of t, c, h; the scan's padded value and its consumer. */
  record Match(LoopLstmCell cell, Value lengths, int tSlot, int cSlot, int hSlot, Value x, Tensor w,
      Tensor r, Tensor b, boolean folded, boolean reverse, Node padding, Node outReverse) {}

  /** @param lstm the loop is an LSTM that stays a Loop: the user is warned, not only told under explain */
  LoopLstmRule() {
    super(NAME);
  }

  @Override
  Check<Match> check(Node loop, Graph body) {
    int carried = loop.inputs().size() - 2;
    int scans = loop.outputs().size() - carried;
    if (carried < 3 || scans != 1) return Check.no("not a loop over (t, c, h) with one scan output");
    if (body.allNodes().size() != body.nodes().size()) return Check.no("the body holds nested graphs");
    Value element = out(body, 1 + carried);
    Node select = TfPatterns.producer(element, "Select", "SelectV2");
    if (select == null) return unmasked(loop, body, carried, element);
    if (!TfPatterns.isZeros(select.input(1))) return Check.no("the scan output is not Select(copy, 0, h')");
    Value hNew = select.input(2);
    Node copy = TfPatterns.producer(select.input(0), "GreaterEqual");
    if (copy == null) return Check.no("the output mask is not t >= sequence_length");
    int tSlot = slotOf(body, copy.input(0));
    Value lengths = TfPatterns.skipIdentities(copy.input(1));
    if (tSlot < 0 || lengths.producer() != null && lengths.producer().graph() == body) {
      return Check.no("the output mask is not t >= sequence_length with t carried and the lengths from outside");
    }
    if (!counts(loop, body, tSlot)) return Check.no("t does not count 0, 1, 2, ...");
    int cSlot = -1;
    int hSlot = -1;
    Value cNew = null;
    for (int k = 0; k < carried; k++) {
      if (k == tSlot) continue;
      Node s = TfPatterns.producer(out(body, 1 + k), "Select", "SelectV2");
      boolean masked = s != null && TfPatterns.same(s.input(0), select.input(0)) && TfPatterns.same(s.input(1), in(body, k));
      if (masked && TfPatterns.same(s.input(2), hNew)) {
        hSlot = k;
      } else if (masked && cNew == null) {
        cSlot = k;
        cNew = s.input(2);
      } else if (loop.output(k).useCount() > 0) {
        return Check.no("carried value " + k + " is neither t, c nor h and is used after the loop");
      }
    }
    if (cSlot < 0 || hSlot < 0) return Check.no("no carried c and h kept by Select(copy, state, new state)");
    Node block = TfPatterns.producer(hNew, "LSTMBlockCell");
    if (block != null && LoopLstmCell.cellClip(block) > 0) {
      return Check.warn("LSTMBlockCell cell_clip " + LoopLstmCell.cellClip(block) + " clips TF's cell state; ONNX "
          + "LSTM's clip bounds the gate pre-activations, a different function (kept as an exact Loop)");
    }
    LoopLstmCell cell = LoopLstmCell.match(hNew, cNew, in(body, hSlot), in(body, cSlot));
    if (cell == null) return Check.no("the body is not one LSTM step (vanillalstm or LSTMCell) over the carried c, h");
    Node gather = TfPatterns.skipIdentities(cell.xt()).producer();
    if (gather == null || !gather.isOnnx("Gather") || gather.intAttr("axis", 0) != 0
        || !TfPatterns.same(gather.input(1), in(body, tSlot))) {
      return Check.no("the step input is not x[t]");
    }
    if (!boundedByMaxLength(loop, body, lengths)) {
      return Check.no("the loop bound is not dynamic_rnn's min(time_steps, max(1, max(sequence_length)))");
    }
    Node padding = scanPadding(loop.output(carried));
    if (padding == null) return Check.no("the scan output is used other than as the padded array");
    return weights(cell, gather, lengths, tSlot, cSlot, hSlot, padding);
  }

  /**
   * {@code dynamic_rnn} without {@code sequence_length}: no masking, the scan output is the cell's {@code h'} and the
   * carried c and h are the cell's new state; every sequence runs the whole time axis, so the ONNX LSTM gets no
   * {@code sequence_lens}. Once the body is one LSTM step writing its h, a further mismatch is a warning: an LSTM
   * stays a Loop.
   */
  private static Check<Match> unmasked(Node loop, Graph body, int carried, Value hNew) {
    int hSlot = -1;
    List<Integer> others = new ArrayList<>();
    for (int k = 0; k < carried; k++) {
      if (TfPatterns.same(out(body, 1 + k), hNew) && hSlot < 0) {
        hSlot = k;
      } else if (!counts(loop, body, k)) {
        others.add(k);
      }
    }
    if (hSlot < 0) return Check.no("the scan output is neither Select(copy, 0, h') (sequence_length) nor a carried h");
    Node block = TfPatterns.producer(hNew, "LSTMBlockCell");
    LoopLstmCell cell = null;
    int cSlot = -1;
    if (block != null && LoopLstmCell.cellClip(block) > 0) {
      return Check.warn("LSTMBlockCell cell_clip " + LoopLstmCell.cellClip(block) + " clips TF's cell state; "
          + "ONNX LSTM's clip bounds the gate pre-activations, a different function (kept as an exact Loop)");
    }
    for (int k : others) {
      cell = LoopLstmCell.match(hNew, out(body, 1 + k), in(body, hSlot), in(body, k));
      if (cell != null) {
        cSlot = k;
        break;
      }
    }
    if (cell == null) return Check.no("the body is not one LSTM step (vanillalstm, LSTMCell or LSTMBlockCell) over the carried c, h");
    for (int k : others) {
      if (k != cSlot && loop.output(k).useCount() > 0) {
        return lstm("carried value " + k + " is neither t, c nor h and is used after the loop");
      }
    }
    Node gather = TfPatterns.skipIdentities(cell.xt()).producer();
    int tSlot = gather == null ? -1 : slotOf(body, gather.input(1));
    if (gather == null || !gather.isOnnx("Gather") || gather.intAttr("axis", 0) != 0 || tSlot < 0 || !counts(loop, body, tSlot)) {
      return lstm("the step input is not x[t] with t counting 0, 1, 2, ...");
    }
    if (!boundedByMaxLength(loop, body, null)) {
      return lstm("the loop bound is not dynamic_rnn's time_steps (min(time_steps, max(1, time_steps)))");
    }
    Node padding = scanPadding(loop.output(carried));
    if (padding == null) return lstm("the scan output is used other than as the padded array");
    return weights(cell, gather, null, tSlot, cSlot, hSlot, padding);
  }

  private static Check<Match> lstm(String reason) {
    return Check.warn("a dynamic_rnn LSTM without sequence_length stays a Loop: " + reason);
  }

  private static Check<Match> weights(LoopLstmCell cell, Node gather, Value lengths, int t, int c, int h, Node padding) {
    int n = cell.hidden();
    int[] blocks = cell.blocks();
    Value x = gather.input(0);
    Tensor w;
    Tensor r;
    Tensor b;
    boolean folded = true;
    if (cell.bias() != null) {
      int in = (int) cell.kernel().shape()[0] - n;
      w = LstmWeights.gateMatrix(cell.kernel(), 0, in, n, blocks);
      r = LstmWeights.gateMatrix(cell.kernel(), in, n, n, blocks);
      b = LstmWeights.bias(cell.bias(), n, blocks, cell.forgetBias());
    } else {
      r = LstmWeights.gateMatrix(cell.kernel(), 0, n, n, blocks);
      InputProjection p = InputProjection.match(x, gather);
      if (p != null && p.weight().shape()[1] == 4L * n) {
        x = p.input();
        w = LstmWeights.gateMatrix(p.weight(), 0, (int) p.weight().shape()[0], n, blocks);
        b = LstmWeights.bias(p.bias(), n, blocks, cell.forgetBias());
      } else {
        folded = false;
        w = LstmWeights.gatePermutation(n, blocks);
        b = LstmWeights.bias(null, n, blocks, cell.forgetBias());
      }
    }
    Node inReverse = reverseSequence(x, lengths);
    Node stack = stackGather(padding);
    Node beforeReverse = stack != null ? stack : padding;
    Node outReverse = beforeReverse.output(0).uses().size() == 1 && !beforeReverse.output(0).isGraphOutput()
        ? reverseSequence(beforeReverse.output(0).uses().get(0).node(), lengths) : null;
    if ((inReverse == null) != (outReverse == null)) {
      return Check.no(inReverse != null ? "ReverseSequence before the loop but not after it (scan output used by "
          + padding.output(0).uses().stream().map(u -> u.node().describe()).toList() + ")"
          : "ReverseSequence after the loop but not before it (input " + x.name() + (x.producer() == null ? "" : " from " + x.producer().describe()) + ")");
    }
    if (inReverse != null) x = inReverse.input(0);
    return Check.of(new Match(cell, lengths, t, c, h, x, w, r, b, folded, inReverse != null, padding, outReverse));
  }

  @Override
  void rewrite(Graph g, RuleContext ctx, Node loop, Match m) {
    OnnxBuilder ob = new OnnxBuilder(g, ctx.opset(), loop.tfName(), loop.tfName());
    Value lengths = m.lengths() == null ? null : OnnxLstm.int32(ob, m.lengths());
    String direction = m.reverse() ? "reverse" : "forward";
    Value c0 = loop.input(2 + m.cSlot());
    Value h0 = loop.input(2 + m.hSlot());
    OnnxLstm.Spec spec = new OnnxLstm.Spec(loop.name() + "/LSTM", loop.tfName(), m.x(), m.w(), m.r(), m.b(), m.cell().peepholes(),
        lengths, OnnxLstm.initialState(ob, h0), OnnxLstm.initialState(ob, c0), direction, m.cell().hidden());
    Node lstm = OnnxLstm.emit(g, ob, spec);
    Node y = m.outReverse() != null ? m.outReverse() : m.padding();
    g.replaceAllUses(y.output(0), OnnxLstm.timeMajor(ob, lstm.output(OnnxLstm.Y)));
    // Final states: an empty sequence (or time axis) keeps TF's initial state, where ONNX Runtime's Y_h/Y_c are zeros.
    if (loop.output(m.hSlot()).useCount() > 0) {
      g.replaceAllUses(loop.output(m.hSlot()), finalState(ob, lstm.output(OnnxLstm.Y_H), m, h0, spec.initH()));
    }
    if (loop.output(m.cSlot()).useCount() > 0) {
      g.replaceAllUses(loop.output(m.cSlot()), finalState(ob, lstm.output(OnnxLstm.Y_C), m, c0, spec.initC()));
    }
    List<Node> roots = new ArrayList<>(List.of(y, m.padding(), loop));
    roots.addAll(emptyBody(g, ((Attr.GraphVal) loop.attr("body")).value()));
    DeadNodes.removeFrom(g, roots);
    ctx.fused(NAME, "Loop " + loop.describe() + " → LSTM " + direction + ", hidden " + m.cell().hidden()
        + " (" + m.cell().kind() + (m.cell().bias() == null && m.folded() ? ", input projection folded" : "") + ")"
        + (m.cell().peepholes() != null ? ", peepholes as P" : "")
        + (m.cell().forgetBias() != 0 ? ", forget_bias " + m.cell().forgetBias() + " in B" : "")
        + (m.lengths() == null ? ", full length (no sequence_length)" : ", sequence_lens from " + m.lengths().name()));
  }

  private static Value finalState(OnnxBuilder ob, Value state, Match m, Value initial, Value initialState) {
    return m.lengths() == null ? OnnxLstm.finalStateFullLength(ob, state, m.x(), initial, initialState)
        : OnnxLstm.finalState(ob, state, OnnxLstm.int32(ob, m.lengths()), initial, initialState);
  }

  /**
   * Removes every node of the body and returns the outer nodes they read: body nodes use outer values directly, and
   * those uses would otherwise keep the loop's inputs (projection, zero states, bounds) alive after the Loop is gone.
   */
  static List<Node> emptyBody(Graph g, Graph body) {
    List<Node> outer = new ArrayList<>();
    for (Node n : body.allNodes()) {
      for (Value v : n.inputs()) {
        if (v != null && v.producer() != null && v.producer().graph() == g) outer.add(v.producer());
      }
    }
    while (!body.outputs().isEmpty()) body.removeOutput(body.outputs().size() - 1);
    body.removeDeadNodes();
    return outer;
  }

  /** {@code t} starts at 0 and its next value is {@code t + 1}. */
  static boolean counts(Node loop, Graph body, int slot) {
    Long start = TfPatterns.scalarInt(loop.input(2 + slot));
    Node add = TfPatterns.producer(out(body, 1 + slot), "AddV2", "Add");
    if (start == null || start != 0 || add == null) return false;
    for (int k = 0; k < 2; k++) {
      Long one = TfPatterns.scalarInt(add.input(1 - k));
      if (TfPatterns.same(add.input(k), in(body, slot)) && one != null && one == 1) return true;
    }
    return false;
  }

  /**
   * The body's condition is a conjunction of {@code Less(v', bound)} on counters, each bound either the trip count
   * {@code T} behind the Loop's M input or {@code Minimum(T, Maximum(1, Max(L)))}, and the latter occurs: the loop then
   * runs {@code min(T, max(1, max(L)))} steps, at least every valid step (lengths never exceed the time axis). Without
   * lengths ({@code lengths} null) dynamic_rnn's max length is T itself: bounds T or {@code Minimum(T, Maximum(1, T))},
   * both T steps.
   */
  static boolean boundedByMaxLength(Node loop, Graph body, Value lengths) {
    Node maxTrips = loop.input(0) == null ? null : loop.input(0).producer();
    if (maxTrips == null || !maxTrips.isOnnx("Max")) return false;
    Node cast = maxTrips.input(0).producer();
    Value steps = cast != null && cast.isOnnx("Cast") ? TfPatterns.skipIdentities(cast.input(0)) : null;
    if (steps == null) return false;
    List<Value> terms = new ArrayList<>();
    conjuncts(out(body, 0), terms);
    boolean byLength = false;
    for (Value term : terms) {
      Node less = TfPatterns.producer(term, "Less");
      int counter = less == null ? -1 : slotOfNext(body, less.input(0));
      if (counter < 0 || !counts(loop, body, counter)) return false;
      Value bound = TfPatterns.skipIdentities(less.input(1));
      if (bound == steps) {
        byLength |= lengths == null;
        continue;
      }
      Node min = TfPatterns.producer(bound, "Minimum");
      if (min == null) return false;
      boolean ok = false;
      for (int k = 0; k < 2; k++) {
        Node max = TfPatterns.producer(min.input(1 - k), "Maximum");
        if (!TfPatterns.same(min.input(k), steps) || max == null) continue;
        for (int j = 0; j < 2; j++) {
          Long one = TfPatterns.scalarInt(max.input(j));
          if (lengths == null) {
            ok |= one != null && one == 1 && TfPatterns.same(max.input(1 - j), steps);
            continue;
          }
          Node reduce = TfPatterns.producer(max.input(1 - j), "Max");
          long[] axes = reduce == null ? null : TfPatterns.constLongs(reduce.input(1));
          ok |= one != null && one == 1 && reduce != null && TfPatterns.same(reduce.input(0), lengths)
              && axes != null && axes.length == 1 && axes[0] == 0;
        }
      }
      if (!ok) return false;
      byLength = true;
    }
    return byLength;
  }

  static void conjuncts(Value v, List<Value> out) {
    Node and = TfPatterns.producer(v, "LogicalAnd");
    if (and == null) {
      out.add(v);
      return;
    }
    conjuncts(and.input(0), out);
    conjuncts(and.input(1), out);
  }

  /** The Concat(scan, zeros) padding the scan output to the array size, when that is all the scan feeds (and Shape). */
  static Node scanPadding(Value scan) {
    Node concat = null;
    for (Value.Use u : scan.uses()) {
      Node user = u.node();
      if (user.isOnnx("Concat") && u.index() == 0 && user.inputs().size() == 2 && concat == null) {
        concat = user;
      } else if (!user.isOnnx("Shape")) {
        return null;
      }
    }
    if (concat == null || scan.isGraphOutput() || concat.intAttr("axis", -1) != 0) return null;
    Node zeros = concat.input(1).producer();
    return zeros != null && zeros.isOnnx("ConstantOfShape") ? concat : null;
  }

  /**
   * The only use of the padded scan output when it is TensorArrayStack's gather of every element in order
   * ({@code Gather(axis 0, Range(0, size, 1))}, an identity): real RETURNN graphs reverse the backward direction's
   * output after it.
   */
  static Node stackGather(Node padding) {
    Value v = padding.output(0);
    if (v.uses().size() != 1 || v.isGraphOutput()) return null;
    Node g = v.uses().get(0).node();
    if (!g.isOnnx("Gather") || g.intAttr("axis", 0) != 0 || g.input(0) != v) return null;
    Node range = g.input(1).producer();
    if (range == null || !(range.isOnnx("Range") || range.is(Node.TF, "Range"))) return null;
    long[] start = TfPatterns.constLongs(range.input(0));
    long[] delta = TfPatterns.constLongs(range.input(2));
    boolean inOrder = start != null && start.length == 1 && start[0] == 0 && delta != null && delta.length == 1 && delta[0] == 1;
    return inOrder ? g : null;
  }

  /** {@code n} (or the producer of {@code v}) if it is ReverseSequence over time-major [T,B,...] by {@code lengths}. */
  static Node reverseSequence(Value v, Value lengths) {
    return reverseSequence(TfPatterns.producer(v, "ReverseSequence"), lengths);
  }

  static Node reverseSequence(Node n, Value lengths) {
    if (n == null || !n.is(Node.TF, "ReverseSequence")) return null;
    boolean timeMajor = n.intAttr("seq_dim", -1) == 0 && n.intAttr("batch_dim", 0) == 1;
    return timeMajor && TfPatterns.same(n.input(1), lengths) ? n : null;
  }

  static Value out(Graph body, int i) {
    return TfPatterns.skipIdentities(skipOnnxIdentity(body.outputs().get(i)));
  }

  /** Body outputs are ONNX Identities added by the loop conversion. */
  static Value skipOnnxIdentity(Value v) {
    Node p = v.producer();
    return p != null && p.isOnnx("Identity") ? p.input(0) : v;
  }

  static Value in(Graph body, int slot) {
    return body.inputs().get(2 + slot);
  }

  /** The carried slot whose body input is {@code v}, or -1. */
  static int slotOf(Graph body, Value v) {
    Value s = TfPatterns.skipIdentities(v);
    for (int k = 2; k < body.inputs().size(); k++) if (body.inputs().get(k) == s) return k - 2;
    return -1;
  }

  /** The carried slot whose next value is {@code v} (read in the body's condition), or -1. */
  static int slotOfNext(Graph body, Value v) {
    Value s = TfPatterns.skipIdentities(v);
    for (int k = 2; k < body.inputs().size(); k++) if (out(body, k - 1) == s) return k - 2;
    return -1;
  }
}
