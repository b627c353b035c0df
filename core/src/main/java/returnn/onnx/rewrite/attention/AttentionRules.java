package returnn.onnx.rewrite.attention;

import java.util.List;
import returnn.onnx.rewrite.Rule;

/** Attention fusions, all at the TF level where RETURNN's layer structure is intact. */
public final class AttentionRules {
  private AttentionRules() {}

  /** RETURNN self-attention → MultiHeadAttention (or ONNX Attention at opset 23), relative positions included. */
  public static final Rule SELF_ATTENTION = SelfAttentionRule.create();
  /** A relative-position term (key_shift) of a layer not fused, computed from q·Eᵀ instead of a [T,T,d] gather. */
  public static final Rule RELATIVE_POSITIONS = RelativePositionRule.create();

  /** In order: the attention fusion takes the relative-position terms it can; the rest are rewritten alone. */
  public static List<Rule> tfLevel() {
    return List.of(SELF_ATTENTION, RELATIVE_POSITIONS);
  }
}
