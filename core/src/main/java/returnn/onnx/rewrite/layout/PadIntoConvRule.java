package returnn.onnx.rewrite.layout;

import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * A zero Pad of only the spatial axes right before a Conv with explicit pads becomes part of the Conv's pads (MobileNet
 * and ResNet graphs call tf.pad before a stride-2 VALID convolution). Zero padding is what Conv's pads mean, so the
 * result is the same; a Pad of the batch or channel axes, another mode or value, or a Conv with auto_pad is left.
 */
final class PadIntoConvRule extends NodeRule {
  static final String NAME = "LayoutRules.PAD_INTO_CONV";

  PadIntoConvRule() {
    super(NAME, false);
  }

  @Override
  protected boolean visit(Graph g, Node conv, RuleContext ctx) {
    if (!conv.isOnnx("Conv")) return false;
    Value padded = conv.input(0);
    Node pad = padded.producer();
    if (pad == null || !pad.isOnnx("Pad") || pad.graph() != g || padded.useCount() != 1 || padded.isGraphOutput()) {
      return false;
    }
    String reason = check(pad, conv);
    if (reason != null) {
      ctx.decline(NAME, pad.describe(), reason);
      return false;
    }
    long[] p = pad.input(1).constant().toLongs();
    int r = p.length / 2;
    int spatial = r - 2;
    long[] convPads = conv.intsAttr("pads");
    long[] merged = new long[2 * spatial];
    for (int i = 0; i < spatial; i++) {
      merged[i] = (convPads == null ? 0 : convPads[i]) + p[2 + i];
      merged[spatial + i] = (convPads == null ? 0 : convPads[spatial + i]) + p[r + 2 + i];
    }
    conv.set("pads", new Attr.Ints(merged));
    g.setInput(conv, 0, pad.input(0));
    g.removeNode(pad);
    return true;
  }

  private static String check(Node pad, Node conv) {
    if (!pad.stringAttr("mode", "constant").equals("constant")) return "mode " + pad.stringAttr("mode", "");
    if (pad.inputs().size() > 3 && pad.input(3) != null) return "Pad with axes";
    Tensor pads = pad.input(1).constant();
    if (pads == null) return "pads are not constant";
    if (pad.inputs().size() > 2 && pad.input(2) != null) {
      Tensor v = pad.input(2).constant();
      if (v == null || v.size() != 1 || v.getDouble(0) != 0) return "the pad value is not 0";
    }
    long[] p = pads.toLongs();
    int r = p.length / 2;
    if (r < 3 || p[0] != 0 || p[1] != 0 || p[r] != 0 || p[r + 1] != 0) return "pads the batch or channel axis";
    for (long v : p) if (v < 0) return "negative pads (a crop)";
    String autoPad = conv.stringAttr("auto_pad", "NOTSET");
    if (!autoPad.equals("NOTSET")) return "the Conv has auto_pad " + autoPad;
    long[] cp = conv.intsAttr("pads");
    if (cp != null && cp.length != 2 * (r - 2)) return "Conv pads of another rank";
    return null;
  }
}
