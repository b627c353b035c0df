package returnn.onnx.rewrite.norm;

import java.util.List;
import returnn.onnx.rewrite.Rule;

/** Normalization and activation fusions, at the TF level where RETURNN's building blocks are intact. */
public final class NormRules {
  private NormRules() {}

  /** RETURNN layer norm → ONNX LayerNormalization (opset 17+). */
  public static final Rule LAYER_NORM = LayerNormRule.create();
  /** A layer norm without the shift (RETURNN's LayerNormVariantsLSTMCell, {@code with_beta=False}). */
  public static final Rule LAYER_NORM_NO_SHIFT = LayerNormRule.createWithoutShift();
  /** tf.nn.gelu (exact or tanh) and RETURNN's gelu → Gelu / FastGelu. */
  public static final Rule GELU = GeluRule.create();
  /** tf.nn.swish → x·Sigmoid(x). */
  public static final Rule SWISH = SwishRule.create();
  /** Inference FusedBatchNorm folded into the preceding Conv2D / depthwise conv / MatMul. */
  public static final Rule FOLD_BATCH_NORM = BatchNormFoldRule.create();

  public static List<Rule> tfLevel() {
    return List.of(FOLD_BATCH_NORM, LAYER_NORM, LAYER_NORM_NO_SHIFT, GELU, SWISH);
  }
}
