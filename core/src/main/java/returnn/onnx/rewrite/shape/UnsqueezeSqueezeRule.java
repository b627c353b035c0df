package returnn.onnx.rewrite.shape;

import java.util.ArrayList;
import java.util.Arrays;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.Rule;
import returnn.onnx.rewrite.RuleContext;

/**
 * {@code Squeeze(Unsqueeze(x, axes), axes)} is x. Such pairs appear where a rule re-views a tensor next to TF's own
 * ExpandDims/Squeeze (e.g. {@link WideConvRule} next to TF's conv1d); ONNX Runtime runs each as a kernel call.
 */
final class UnsqueezeSqueezeRule implements Rule {
  @Override
  public String name() {
    return "Shapes.UNSQUEEZE_SQUEEZE";
  }

  @Override
  public int apply(Graph root, RuleContext ctx) {
    int fired = 0;
    for (Node sq : new ArrayList<>(root.allNodes())) {
      if (sq.graph() == null || !sq.isOnnx("Squeeze") || sq.output(0).isGraphOutput()) continue;
      Node un = sq.input(0).producer();
      if (un == null || !un.isOnnx("Unsqueeze") || un.graph() != sq.graph()) continue;
      long[] a = axes(sq), b = axes(un);
      if (a == null || b == null || !Arrays.equals(a, b) || Arrays.stream(a).anyMatch(x -> x < 0)) continue;
      Graph g = sq.graph();
      Value x = un.input(0);
      g.replaceAllUses(sq.output(0), x);
      g.removeNode(sq);
      if (un.output(0).useCount() == 0 && !un.output(0).isGraphOutput()) g.removeNode(un);
      fired++;
    }
    return fired;
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
