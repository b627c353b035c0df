package returnn.onnx.rewrite;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ConversionReport;
import returnn.onnx.ir.Graph;

/**
 * Rules in two phases: TF-level (before legalization, where patterns like NativeLstm2 with its projection are
 * clearest) and ONNX-level (fusions and cleanups after). Each phase runs its rules to a fixed point and reports
 * per-rule counts.
 */
public final class Pipeline {
  /** Rounds of all rules before a phase is taken as not settling (a rule undoing another's work). */
  static final int MAX_ROUNDS = 10;

  private final List<Rule> tfRules;
  private final List<Rule> onnxRules;

  public Pipeline(List<Rule> tfRules, List<Rule> onnxRules) {
    this.tfRules = tfRules;
    this.onnxRules = onnxRules;
  }

  /** The standard rule set; {@code fuse=false} keeps only the cleanups needed for a valid graph. */
  public static Pipeline standard(boolean fuse) {
    return standard(fuse, List.of(), List.of());
  }

  /**
   * The standard rule set with user rules registered the way the built-ins are: {@code userTf} over the TF-level graph
   * ahead of the built-in TF-level rules (so a user rule can claim a pattern first), {@code userOnnx} over the ONNX
   * graph after the built-in fusions and before the cleanups (which then drop what the user rules left dead). Both
   * run with {@code fuse=false} too, in their phase's fixed point; their counts appear in the report under their names.
   */
  public static Pipeline standard(boolean fuse, List<Rule> userTf, List<Rule> userOnnx) {
    List<Rule> tf = new ArrayList<>(userTf);
    // Control flow v2 (While/If with library functions) and tf.function calls: Loops, Ifs and inlined nodes first.
    tf.addAll(returnn.onnx.rewrite.functional.FunctionalRules.tfLevel());
    if (fuse) tf.addAll(returnn.onnx.rewrite.lstm.LstmRules.all());
    if (fuse) tf.addAll(returnn.onnx.rewrite.attention.AttentionRules.tfLevel());
    if (fuse) tf.addAll(returnn.onnx.rewrite.norm.NormRules.tfLevel());
    // TF1 loops and conditionals have no op handlers: these rules turn them into Loop/If, with or without fusion.
    tf.addAll(returnn.onnx.rewrite.controlflow.ControlFlowRules.tfLevel());
    // dynamic_rnn LSTM loops (vanillalstm, standardlstm) → LSTM, once the control-flow rules made them Loops.
    if (fuse) tf.add(returnn.onnx.rewrite.lstm.LstmRules.LOOP_LSTM);
    if (fuse) tf.add(returnn.onnx.rewrite.lstm.LstmRules.LOOP_GRU);
    List<Rule> onnx = new ArrayList<>(returnn.onnx.rewrite.controlflow.ControlFlowRules.onnxLevel());
    if (fuse) onnx.addAll(returnn.onnx.rewrite.shape.ShapeRules.onnxLevel());
    if (fuse) onnx.addAll(returnn.onnx.rewrite.layout.LayoutRules.onnxLevel());
    // Again after common subexpressions merged each layer's own copy of the input (real RETURNN graphs).
    if (fuse) onnx.add(returnn.onnx.rewrite.lstm.LstmRules.BIDIRECTIONAL_PAIR);
    onnx.addAll(userOnnx);
    onnx.addAll(Cleanups.all());
    return new Pipeline(tf, onnx);
  }

  public void runTfLevel(Graph g, int opset, ConversionReport report) {
    run(tfRules, g, opset, report);
  }

  public void runOnnxLevel(Graph g, int opset, ConversionReport report) {
    run(onnxRules, g, opset, report);
  }

  private static void run(List<Rule> rules, Graph g, int opset, ConversionReport report) {
    RuleContext ctx = new RuleContext(opset);
    boolean settled = false;
    List<String> lastFired = new ArrayList<>();
    for (int round = 0; round < MAX_ROUNDS && !settled; round++) {
      int fired = 0;
      lastFired.clear();
      for (Rule r : rules) {
        int n = r.apply(g, ctx);
        if (n > 0) {
          report.rulesFired.merge(r.name(), n, Integer::sum);
          lastFired.add(r.name() + " x" + n);
        }
        fired += n;
      }
      settled = fired == 0;
    }
    if (!settled) {
      String msg = "the rewrite rules did not settle after " + MAX_ROUNDS + " rounds (still firing: "
          + String.join(", ", lastFired) + "); the model is valid but may not be fully simplified";
      if (returnn.onnx.InternalErrors.strict()) throw new IllegalStateException(msg);
      report.warnings.add(msg);
    }
    report.ruleNotes.addAll(ctx.declined());
    report.warnings.addAll(ctx.warnings());
    report.fusions.addAll(ctx.fused());
  }
}
