package returnn.onnx.rewrite.lstm;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * TF's fused LSTM ops of TF1.15-era RETURNN graphs (units {@code lstmblockfused}, LSTMBlockFusedCell) →
 * ONNX {@code LSTM}: {@code BlockLSTM(seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b)} with w = [W_x; W_h]
 * [in+n, 4n] in gate order i, c, f, o (BlockLSTMV2: i, f, c, o), {@code forget_bias} (V1 only) added to the forget
 * gate's bias, peepholes wci/wcf/wco as P.
 *
 * <p>The cell computes every frame up to {@code seq_len_max} and leaves zeros after it; LSTMBlockFusedCell then
 * multiplies h by the tiled sequence mask. That Mul with {@code seq_len_max = max(lengths)} becomes the LSTM's
 * {@code sequence_lens} (ONNX Runtime zero-fills Y after each length); without it, every sequence runs to
 * {@code seq_len_max}.
 *
 * <p>Declines when {@code cell_clip > 0}: TF clips the cell state cs itself, ONNX's {@code clip} clips the gate
 * pre-activations, which is a different function (the op then becomes an exact Loop, see ReturnnHandlers). Also
 * declines when any output but h is consumed.
 */
final class BlockLstmRule extends NodeRule {
  static final String NAME = "LstmRules.BLOCK_LSTM";
  private static final int H = 6;

  BlockLstmRule() {
    super(NAME, false);
  }

  @Override
  protected boolean visit(Graph g, Node n, RuleContext ctx) {
    if (!(n.is(Node.TF, "BlockLSTM") || n.is(Node.TF, "BlockLSTMV2"))) return false;
    String why = check(n);
    if (why != null) {
      ctx.warn(NAME, n.describe(), why + " (kept as an exact Loop)");
      return false;
    }
    rewrite(g, ctx, n);
    return true;
  }

  private static String check(Node n) {
    if (n.inputs().size() != 9) return "expected 9 inputs, got " + n.inputs().size();
    for (int i = 0; i < n.outputs().size(); i++) {
      if (i != H && n.output(i).useCount() > 0) return "output " + i + " (gates or cell states) is consumed; ONNX LSTM has only h";
    }
    float clip = TfPatterns.floatAttr(n, "cell_clip", n.op().equals("BlockLSTM") ? 3f : 0f);
    if (clip > 0) {
      return "cell_clip " + clip + " clips TF's cell state; ONNX LSTM's clip bounds the gate pre-activations, a different function";
    }
    Tensor w = TfPatterns.constant(n.input(4));
    Tensor b = TfPatterns.constant(n.input(8));
    if (w == null || b == null || w.rank() != 2 || w.shape()[1] % 4 != 0 || b.size() != w.shape()[1]) {
      return "w/b are not constants of shapes [in+n, 4n] and [4n]";
    }
    if (w.shape()[0] <= w.shape()[1] / 4) return "w has no input rows";
    if (TfPatterns.boolAttr(n, "use_peephole", false)) {
      for (int i = 5; i <= 7; i++) if (TfPatterns.constant(n.input(i)) == null) return "peephole weights are not constants";
    }
    return null;
  }

  private static void rewrite(Graph g, RuleContext ctx, Node n) {
    OnnxBuilder ob = new OnnxBuilder(g, ctx.opset(), n.tfName(), n.tfName());
    boolean v2 = n.op().equals("BlockLSTMV2");
    int[] blocks = v2 ? LstmWeights.TF_IFCO : LstmWeights.TF_ICFO;
    float forgetBias = v2 ? 0f : TfPatterns.floatAttr(n, "forget_bias", 1f);
    Tensor w = TfPatterns.constant(n.input(4));
    int hidden = (int) (w.shape()[1] / 4);
    int in = (int) w.shape()[0] - hidden;
    Tensor p = TfPatterns.boolAttr(n, "use_peephole", false) ? LstmWeights.peepholes(TfPatterns.constant(n.input(5)),
        TfPatterns.constant(n.input(6)), TfPatterns.constant(n.input(7)), hidden) : null;
    Value h = n.outputs().size() > H ? n.output(H) : null;
    Node masked = h == null ? null : maskedOutput(n, h);
    Value lengths = masked != null ? SequenceLengths.fromTimeMajorMask(maskOf(masked, h)) : null;
    Value seqLens = lengths != null ? OnnxLstm.int32(ob, lengths) : broadcastSeqLenMax(ob, n);
    OnnxLstm.Spec spec = new OnnxLstm.Spec(n.tfName() + "/LSTM", n.tfName(), n.input(1),
        LstmWeights.gateMatrix(w, 0, in, hidden, blocks), LstmWeights.gateMatrix(w, in, hidden, hidden, blocks),
        LstmWeights.bias(TfPatterns.constant(n.input(8)), hidden, blocks, forgetBias), p, seqLens,
        OnnxLstm.initialState(ob, n.input(3)), OnnxLstm.initialState(ob, n.input(2)), "forward", hidden);
    Node lstm = OnnxLstm.emit(g, ob, spec);
    List<Node> roots = new ArrayList<>(List.of(n));
    if (h != null && h.useCount() > 0) {
      Value y = OnnxLstm.timeMajor(ob, lstm.output(OnnxLstm.Y));
      if (lengths != null) {
        g.replaceAllUses(masked.output(0), y);
        roots.add(masked);
      } else {
        g.replaceAllUses(h, y);
      }
    }
    DeadNodes.removeFrom(g, roots);
    ctx.fused(NAME, n.op() + " " + n.describe() + " → LSTM forward, hidden " + hidden
        + (forgetBias != 0 ? ", forget_bias " + forgetBias + " in B" : "") + (p != null ? ", peepholes as P" : "")
        + (lengths != null ? ", h·mask → sequence_lens from " + lengths.name() : ", sequence_lens = seq_len_max"));
  }

  /**
   * LSTMBlockFusedCell's {@code h * Tile(ExpandDims(mask, -1), [1,1,n])}, when h feeds only that Mul and
   * {@code seq_len_max} is {@code max(lengths)} of the same lengths; else null.
   */
  private static Node maskedOutput(Node n, Value h) {
    if (h.uses().size() != 1 || h.isGraphOutput()) return null;
    Node mul = h.uses().get(0).node();
    if (!mul.is(Node.TF, "Mul")) return null;
    Value mask = maskOf(mul, h);
    Value lengths = mask == null ? null : SequenceLengths.fromTimeMajorMask(mask);
    if (lengths == null) return null;
    Node cast = TfPatterns.producer(n.input(0), "Cast");
    Node max = TfPatterns.producer(cast != null ? cast.input(0) : n.input(0), "Max");
    if (max == null || !TfPatterns.same(max.input(0), lengths)) return null;
    long[] axes = TfPatterns.constLongs(max.input(1));
    return axes != null && axes.length == 1 && axes[0] == 0 ? mul : null;
  }

  /** The [T,B] mask of {@code mul = h * Tile(ExpandDims(mask, -1), [1, 1, n])}, or null. */
  private static Value maskOf(Node mul, Value h) {
    Value other = mul.input(0) == h ? mul.input(1) : mul.input(1) == h ? mul.input(0) : null;
    Node tile = other == null ? null : TfPatterns.producer(other, "Tile");
    Node expand = tile == null ? null : TfPatterns.producer(tile.input(0), "ExpandDims");
    if (expand == null) return null;
    long[] multiples = TfPatterns.constLongs(tile.input(1));
    Long axis = TfPatterns.scalarInt(expand.input(1));
    if (multiples == null || multiples.length != 3 || multiples[0] != 1 || multiples[1] != 1) return null;
    return axis != null && (axis == -1 || axis == 2) ? expand.input(0) : null;
  }

  /** Every sequence runs to seq_len_max (BlockLSTM leaves zeros after it, as ONNX does after sequence_lens). */
  private static Value broadcastSeqLenMax(OnnxBuilder ob, Node n) {
    Value max = OnnxLstm.typed(ob.cast(n.input(0), DType.INT32), Shape.UNKNOWN);
    Value batch = ob.slice(ob.shapeOf(n.input(1)), new long[] {1}, new long[] {2}, new long[] {0}, null);
    return ob.op("Expand", max, batch);
  }
}
