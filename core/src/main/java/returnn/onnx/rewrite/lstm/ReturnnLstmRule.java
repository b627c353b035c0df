package returnn.onnx.rewrite.lstm;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * RETURNN's LSTM kernels ({@link ReturnnKernel}) → one ONNX {@code LSTM} each: the input projection in front folded
 * into W and B ({@link InputProjection}), the mask traced to its lengths for {@code sequence_lens}
 * ({@link SequenceLengths}), {@code step = -1} as {@code direction=reverse}, y → Y, the final cell state → Y_c and
 * RETURNN's final-h gathers ({@link LastOutput}) → Y_h.
 *
 * <p>Declines (and the op converts to an exact ONNX Loop instead, see ReturnnHandlers) when ONNX LSTM cannot say the
 * same: the all-frames cell states or gate activations are consumed, start/step are not the constants 0 and ±1, the
 * mask is not a sequence mask of lengths, weights are not constants, or (kernels feeding back the masked output)
 * a backward pass starts from a non-zero h.
 */
final class ReturnnLstmRule extends NodeRule {
  static final String NAME = "LstmRules.RETURNN_KERNEL";

  /** What the fused node gets; {@code folded} is false when x is taken as it is (with a gate permutation as W). */
  private record Plan(ReturnnKernel kernel, int hidden, Value x, Tensor w, Tensor r, Tensor b, Value lengths, Value y0,
      Value c0, boolean forward, boolean folded) {}

  /** A plan, or why there is none. */
  private record Check(Plan plan, String reason) {
    static Check no(String reason) {
      return new Check(null, reason);
    }
  }

  ReturnnLstmRule() {
    super(NAME, false);
  }

  @Override
  protected boolean visit(Graph g, Node n, RuleContext ctx) {
    if (!n.domain().equals(Node.TF)) return false;
    ReturnnKernel k = ReturnnKernel.of(n.op());
    if (k == null) return false;
    Check c = check(n, k);
    if (c.plan() == null) {
      ctx.warn(NAME, n.describe(), c.reason() + " (kept as an exact Loop)");
      return false;
    }
    rewrite(g, ctx, n, c.plan());
    return true;
  }

  private static Check check(Node n, ReturnnKernel k) {
    if (n.inputs().size() != k.inputs) return Check.no("expected " + k.inputs + " inputs, got " + n.inputs().size());
    if (k.cells >= 0 && TfPatterns.outputUsed(n, k.cells)) {
      return Check.no("the all-frames cell states (output " + k.cells + ") are consumed; ONNX LSTM has no such output");
    }
    if (k.gates >= 0 && TfPatterns.outputUsed(n, k.gates)) {
      return Check.no("the gate activations (output " + k.gates + ") are consumed; ONNX LSTM has no such output");
    }
    boolean forward = true;
    if (k.step >= 0) {
      Long start = TfPatterns.scalarInt(n.input(k.start));
      Long step = TfPatterns.scalarInt(n.input(k.step));
      if (start == null || step == null) return Check.no("start/step are computed at run time, not constants");
      if (start != 0 || Math.abs(step) != 1) return Check.no("start " + start + ", step " + step + " (only 0 and ±1 fuse)");
      forward = step > 0;
    }
    Tensor weights = TfPatterns.constant(n.input(k.weights));
    if (weights == null || weights.rank() != 2 || weights.shape()[1] % 4 != 0) {
      return Check.no("the weight matrix is not a constant [*, 4n] matrix");
    }
    int hidden = (int) (weights.shape()[1] / 4);
    Value lengths = SequenceLengths.fromTimeMajorMask(n.input(k.mask));
    if (lengths == null) return Check.no("the mask is not Transpose(tf.sequence_mask(lengths)) cast to float");
    Value y0 = k.y0 >= 0 ? n.input(k.y0) : null;
    if (k.feedsMaskedOutput() && !forward && y0 != null && !TfPatterns.isZeros(y0)) {
      // Backward, padding comes first: the kernel feeds back 0 there, so the valid frames start from h = 0, not y0.
      return Check.no("a backward " + k.op + " with a non-zero y0 restarts from h = 0 after padding; ONNX LSTM would not");
    }
    Value c0 = n.input(k.c0);
    if (k == ReturnnKernel.LSTM_LOW_MEM) {
      Tensor bias = TfPatterns.constant(n.input(k.bias));
      int in = (int) weights.shape()[0] - hidden;
      if (bias == null || bias.size() != 4L * hidden || in <= 0) return Check.no("W or b is not a constant of the expected shape");
      return new Check(new Plan(k, hidden, n.input(k.x), LstmWeights.gateMatrix(weights, 0, in, hidden, LstmWeights.RETURNN_JIFO),
          LstmWeights.gateMatrix(weights, in, hidden, hidden, LstmWeights.RETURNN_JIFO),
          LstmWeights.bias(bias, hidden, LstmWeights.RETURNN_JIFO, 0f), lengths, y0, c0, forward, true), null);
    }
    if (weights.shape()[0] != hidden) return Check.no("the recurrent matrix is " + java.util.Arrays.toString(weights.shape()) + ", not [n, 4n]");
    Tensor r = LstmWeights.gateMatrix(weights, 0, hidden, hidden, LstmWeights.RETURNN_JIFO);
    InputProjection p = InputProjection.match(n.input(k.x), n);
    if (p != null && p.weight().shape()[1] == 4L * hidden) {
      int in = (int) p.weight().shape()[0];
      return new Check(new Plan(k, hidden, p.input(), LstmWeights.gateMatrix(p.weight(), 0, in, hidden, LstmWeights.RETURNN_JIFO), r,
          LstmWeights.bias(p.bias(), hidden, LstmWeights.RETURNN_JIFO, 0f), lengths, y0, c0, forward, true), null);
    }
    // x is used as it is (a shared or unrecognised projection, or an embedding lookup): W only reorders the gates.
    return new Check(new Plan(k, hidden, n.input(k.x), LstmWeights.gatePermutation(hidden, LstmWeights.RETURNN_JIFO), r,
        LstmWeights.bias(null, hidden, LstmWeights.RETURNN_JIFO, 0f), lengths, y0, c0, forward, false), null);
  }

  private static void rewrite(Graph g, RuleContext ctx, Node n, Plan p) {
    OnnxBuilder ob = new OnnxBuilder(g, ctx.opset(), n.tfName(), n.tfName());
    Value lengths = OnnxLstm.int32(ob, p.lengths());
    OnnxLstm.Spec spec = new OnnxLstm.Spec(n.tfName() + "/LSTM", n.tfName(), p.x(), p.w(), p.r(), p.b(), null,
        lengths, OnnxLstm.initialState(ob, p.y0()), OnnxLstm.initialState(ob, p.c0()),
        p.forward() ? "forward" : "reverse", p.hidden());
    Node lstm = OnnxLstm.emit(g, ob, spec);
    List<Node> roots = new ArrayList<>(List.of(n));
    List<String> mapped = new ArrayList<>();
    Value y = n.outputs().isEmpty() ? null : n.output(0);
    Value finalH = y == null || p.kernel() != ReturnnKernel.NATIVE_LSTM2 ? null
        : LastOutput.find(y, p.y0(), p.lengths(), p.forward());
    if (y != null && y.useCount() > 0) {
      g.replaceAllUses(y, OnnxLstm.timeMajor(ob, lstm.output(OnnxLstm.Y)));
      mapped.add("y → Y");
    }
    if (TfPatterns.outputUsed(n, p.kernel().finalCell)) {
      g.replaceAllUses(n.output(p.kernel().finalCell),
          OnnxLstm.finalState(ob, lstm.output(OnnxLstm.Y_C), lengths, p.c0(), spec.initC()));
      mapped.add("final c → Y_c");
    }
    if (finalH != null) {
      roots.add(finalH.producer());
      g.replaceAllUses(finalH, OnnxLstm.finalState(ob, lstm.output(OnnxLstm.Y_H), lengths, p.y0(), spec.initH()));
      mapped.add("final h gathers → Y_h");
    }
    DeadNodes.removeFrom(g, roots);
    ctx.fused(NAME, n.op() + " " + n.describe() + " → LSTM " + spec.direction() + ", hidden " + p.hidden()
        + (p.folded() ? ", input projection folded" : ", x taken as projected") + ", sequence_lens from "
        + p.lengths().name() + (mapped.isEmpty() ? "" : ", " + String.join(", ", mapped)));
  }
}
