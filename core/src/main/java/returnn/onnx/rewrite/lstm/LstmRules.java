package returnn.onnx.rewrite.lstm;

import java.util.List;
import returnn.onnx.rewrite.Rule;

/**
 * TF-level LSTM fusions: RETURNN's kernels and TF's BlockLSTM become ONNX {@code LSTM} nodes, then forward/backward
 * pairs over the same input become one bidirectional LSTM. What a rule cannot fuse exactly it declines (with the
 * reason in {@code convert --explain-fusions}); the op is then converted by its Loop handler.
 */
public final class LstmRules {
  private LstmRules() {}

  public static final Rule RETURNN_KERNEL = new ReturnnLstmRule();
  public static final Rule BLOCK_LSTM = new BlockLstmRule();
  public static final Rule BIDIRECTIONAL_PAIR = new BidirectionalPairRule();
  /** Runs on the Loops of the control-flow rules, so it is registered after them (Pipeline.standard). */
  public static final Rule LOOP_LSTM = new LoopLstmRule();
  /** GRU loops (GRUCell, GRUBlockCell) → ONNX GRU; registered with {@link #LOOP_LSTM}. */
  public static final Rule LOOP_GRU = new LoopGruRule();

  /** In order: the kernel rules first, so the pair rule sees their LSTM nodes in the same round. */
  public static List<Rule> all() {
    return List.of(RETURNN_KERNEL, BLOCK_LSTM, BIDIRECTIONAL_PAIR);
  }
}
