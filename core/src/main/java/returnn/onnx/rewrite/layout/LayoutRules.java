package returnn.onnx.rewrite.layout;

import java.util.List;
import returnn.onnx.rewrite.Rule;

/**
 * Layout rules at ONNX level: the NHWC↔NCHW Transposes around converted convolutions pushed down until they cancel,
 * Transposes that only move axes of size 1 turned into Squeeze/Unsqueeze, per-channel Mul/Add after a Conv folded
 * into its weights and bias, a zero Pad before a Conv folded into its pads, and the output Transpose hoisted above a
 * widening projection.
 */
public final class LayoutRules {
  public static final Rule TRANSPOSE_PUSH = new TransposePushRule();
  public static final Rule TRANSPOSE_HOIST = new TransposeHoistRule();
  public static final Rule FOLD_CONV_SCALE_SHIFT = new ConvScaleShiftRule();
  public static final Rule UNIT_TRANSPOSE = new UnitTransposeRule();
  public static final Rule PAD_INTO_CONV = new PadIntoConvRule();

  private LayoutRules() {}

  public static List<Rule> onnxLevel() {
    return List.of(TRANSPOSE_PUSH, UNIT_TRANSPOSE, FOLD_CONV_SCALE_SHIFT, PAD_INTO_CONV, TRANSPOSE_HOIST);
  }
}
