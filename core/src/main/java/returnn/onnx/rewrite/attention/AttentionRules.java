package returnn.onnx.rewrite.attention;

import java.util.List;
import returnn.onnx.rewrite.Rule;

/** Attention fusions, all at the TF level where RETURNN's layer structure is intact. */
public final class AttentionRules {
  private AttentionRules() {}

  /** RETURNN's relative-position term (key_shift) computed from q·Eᵀ instead of a gathered [T,T,d] encoding. */
  public static final Rule RELATIVE_POSITIONS = RelativePositionRule.create();
  /** RETURNN self-attention → MultiHeadAttention (or ONNX Attention at opset 23). */
  public static final Rule SELF_ATTENTION = SelfAttentionRule.create();

  /** In order: the relative-position term becomes the attention bias the self-attention fusion then takes. */
  public static List<Rule> tfLevel() {
    return List.of(RELATIVE_POSITIONS, SELF_ATTENTION);
  }
}
