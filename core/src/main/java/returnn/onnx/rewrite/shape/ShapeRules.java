package returnn.onnx.rewrite.shape;

import java.util.List;
import returnn.onnx.rewrite.Rule;

/** ONNX-level simplifications of the shape arithmetic and layouts TF graphs leave behind. */
public final class ShapeRules {
  private ShapeRules() {}

  public static List<Rule> onnxLevel() {
    return List.of(new FlatMatMulRule(), new WideConvRule(), new UnsqueezeSqueezeRule());
  }
}
