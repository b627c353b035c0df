package returnn.onnx.rewrite.shape;

import java.util.Arrays;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * {@code Squeeze(Unsqueeze(x, axes), axes)} is x. Such pairs appear where a rule re-views a tensor next to TF's own
 * ExpandDims/Squeeze (e.g. {@link WideConvRule} next to TF's conv1d); ONNX Runtime runs each as a kernel call.
 */
final class UnsqueezeSqueezeRule extends NodeRule {
  UnsqueezeSqueezeRule() {
    super("Shapes.UNSQUEEZE_SQUEEZE", true);
  }

  @Override
  protected boolean visit(Graph root, Node sq, RuleContext ctx) {
    if (!sq.isOnnx("Squeeze") || sq.output(0).isGraphOutput()) return false;
    Node un = sq.input(0).producer();
    if (un == null || !un.isOnnx("Unsqueeze") || un.graph() != sq.graph()) return false;
    long[] a = axes(sq), b = axes(un);
    if (a == null || b == null || !Arrays.equals(a, b) || Arrays.stream(a).anyMatch(x -> x < 0)) return false;
    Graph g = sq.graph();
    Value x = un.input(0);
    g.replaceAllUses(sq.output(0), x);
    g.removeNode(sq);
    if (un.output(0).useCount() == 0 && !un.output(0).isGraphOutput()) g.removeNode(un);
    return true;
  }

  /** Constant axes (input since opset 13, attribute before), sorted; null if not constant or absent. */
  private static long[] axes(Node n) {
    long[] a = n.intsAttr("axes");
    if (a == null && n.inputs().size() > 1 && n.input(1) != null && n.input(1).isConstant()) a = n.input(1).constant().toLongs();
    if (a == null) return null;
    long[] s = a.clone();
    Arrays.sort(s);
    return s;
  }
}
