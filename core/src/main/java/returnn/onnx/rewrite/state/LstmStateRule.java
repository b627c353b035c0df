package returnn.onnx.rewrite.state;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * Exposes the state of each forward ONNX {@code LSTM} whose initial state is zeros (absent) or a constant:
 * {@code <L>/rec/initial_state_placeholder_h|c} [B,n] become inputs feeding {@code initial_h}/{@code initial_c}, with the
 * old constant as their default, and {@code Y_h}/{@code Y_c} become the outputs {@code <L>/rec/last_state_h|c}.
 *
 * <p>ONNX Runtime's LSTM gives zeros in Y_h/Y_c for a sequence of length 0 (a batch entry whose chunk is empty), where
 * RETURNN keeps the state: the final state selects the initial one there, as the fused RETURNN layers do.
 * Reverse and bidirectional LSTMs read the future, so their state cannot be carried from one chunk to the next.
 */
final class LstmStateRule extends NodeRule {
  static final String NAME = "StateRules.LSTM_STATE";
  private static final int SEQ_LENS = 4;
  private static final int INITIAL_H = 5;
  private static final int INITIAL_C = 6;
  private static final int Y_H = 1;
  private static final int Y_C = 2;
  /** Ops between a state input and initial_h/initial_c: the fusion's Unsqueeze to [1,B,n], the default's Expand. */
  private static final Set<String> PASS_THROUGH = Set.of("Unsqueeze", "Expand", "Reshape", "Identity");

  private final Set<String> exposed;
  private final boolean defaults;

  /**
   * @param exposed collects the names of the state inputs this rule adds
   * @param defaults give the inputs their fresh state as an initializer default (else they are plain inputs, fresh = zeros)
   */
  LstmStateRule(Set<String> exposed, boolean defaults) {
    super(NAME, true);
    this.exposed = exposed;
    this.defaults = defaults;
  }

  @Override
  protected boolean visit(Graph g, Node n, RuleContext ctx) {
    if (!n.isOnnx("LSTM")) return false;
    if (fromStateInput(n.input(INITIAL_H)) || fromStateInput(n.input(INITIAL_C))) return false; // already a state input
    String reason = check(g, n, defaults);
    if (reason != null) {
      ctx.decline(NAME, n.describe(), reason);
      return false;
    }
    expose(g, ctx, n);
    return true;
  }

  private static String check(Graph g, Node n, boolean defaults) {
    if (n.graph() != g) return "the LSTM is inside a Loop or If body; only top-level states become model inputs";
    String dir = n.stringAttr("direction", "forward");
    if (!dir.equals("forward")) return "a " + dir + " LSTM reads the future: its state cannot be carried across chunks";
    if (n.intAttr("layout", 0) != 0) return "layout=1 (batch-major) LSTM";
    long hidden = n.intAttr("hidden_size", -1);
    if (hidden <= 0) return "no hidden_size attribute";
    for (int i : new int[] {INITIAL_H, INITIAL_C}) {
      Tensor fresh = fresh(n.input(i), hidden);
      if (fresh == null) return "initial state " + n.input(i) + " is computed at run time, not a constant";
      if (!defaults && !allZero(fresh)) {
        return "the initial state is a non-zero constant, and a fresh state fed as zeros would differ (--state-defaults keeps it as the input's default)";
      }
    }
    String scope = StateNames.lstmScope(n.tfName() != null ? n.tfName() : n.name());
    for (String key : new String[] {"h", "c"}) {
      String in = StateNames.input(scope, key);
      String out = StateNames.output(scope, key);
      if (!g.reserveName(in) || !g.reserveName(out)) return "the name " + in + " or " + out + " is taken";
    }
    return null;
  }

  /** The default [1,n] for an initial state: zeros if absent, else a constant [1,1,n]; null if neither. */
  private static Tensor fresh(Value init, long hidden) {
    if (init == null) return Tensor.fromDoubles(DType.FLOAT, new long[] {1, hidden}, new double[(int) hidden]);
    Tensor t = init.constant();
    if (t == null || t.rank() != 3 || t.shape()[0] != 1 || t.shape()[1] != 1) return null;
    return t.reshape(new long[] {1, hidden});
  }

  private static boolean allZero(Tensor t) {
    for (double d : t.toDoubles()) if (d != 0) return false;
    return true;
  }

  /** True if the value is (a reshaping of) a state input: RETURNN's placeholder form, or this rule's own work. */
  private static boolean fromStateInput(Value v) {
    while (v != null) {
      if (v.producer() == null) return !v.isConstant() && StateNames.isStateInput(v.name());
      Node p = v.producer();
      if (!p.domain().isEmpty() || !PASS_THROUGH.contains(p.op())) return false;
      v = p.input(0);
    }
    return false;
  }

  private void expose(Graph g, RuleContext ctx, Node lstm) {
    long hidden = lstm.intAttr("hidden_size", -1);
    String scope = StateNames.lstmScope(lstm.tfName() != null ? lstm.tfName() : lstm.name());
    OnnxBuilder ob = new OnnxBuilder(g, ctx.opset(), scope + "/state", lstm.tfName());
    Value x = lstm.input(0);
    Value lengths = lstm.input(SEQ_LENS);
    Shape stateShape = Shape.of(Dim.sym(StatePorts.BATCH), Dim.of(hidden));
    List<String> mapped = new ArrayList<>();
    String[] keys = {"h", "c"};
    int[] initial = {INITIAL_H, INITIAL_C};
    int[] finals = {Y_H, Y_C};
    for (int k = 0; k < 2; k++) {
      Tensor fresh = fresh(lstm.input(initial[k]), hidden);
      Value in = g.addInput(StateNames.input(scope, keys[k]), DType.FLOAT, stateShape);
      exposed.add(in.name());
      // Uses are rewired to the Expand below, which needs one use to exist; the Unsqueeze is that use.
      Value init = ob.unsqueeze(in, 0);
      Value state = defaults ? StatePorts.withDefault(g, ob, in, fresh, x, 1) : in;
      g.setInput(lstm, initial[k], init);
      Value last = ob.squeeze(lstm.output(finals[k]), 0);
      if (lengths != null) {
        Value started = ob.unsqueeze(ob.op("Greater", lengths, ob.scalar(lengths.dtype(), 0)), 1);
        last = ob.op("Where", started, last, state);
      }
      lstm.output(finals[k]).setDtype(DType.FLOAT);
      last.setDtype(DType.FLOAT);
      StatePorts.addOutput(g, StateNames.output(scope, keys[k]), last, stateShape);
      mapped.add(in.name() + " → initial_" + keys[k] + ", Y_" + keys[k] + " → " + StateNames.output(scope, keys[k]));
    }
    ctx.fused(NAME, "LSTM " + lstm.describe() + ": " + String.join("; ", mapped));
  }
}
