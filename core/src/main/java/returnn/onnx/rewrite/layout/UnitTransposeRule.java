package returnn.onnx.rewrite.layout;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * A Transpose that only moves axes of size 1 keeps every element where it is: it becomes a Squeeze of those axes and
 * an Unsqueeze at their new places (no copy in ONNX Runtime), or just the Unsqueeze when its input came from an
 * Unsqueeze of exactly those axes. RETURNN's conv layers ExpandDims [B,T,F] to NHWC [B,T,F,1], whose NCHW form
 * [B,1,T,F] is this case.
 */
final class UnitTransposeRule extends NodeRule {
  static final String NAME = "LayoutRules.UNIT_TRANSPOSE";

  UnitTransposeRule() {
    super(NAME, false);
  }

  @Override
  protected boolean visit(Graph g, Node t, RuleContext ctx) {
    if (!t.isOnnx("Transpose")) return false;
    long[] p = TransposePushRule.perm(t);
    Value x = t.input(0);
    Shape s = x.shape();
    if (p == null || !s.hasRank() || s.rank() != p.length) return false;
    int r = p.length;
    List<Long> unitIn = new ArrayList<>();
    for (int a = 0; a < r; a++) if (s.dim(a).isFixed() && s.dim(a).value() == 1) unitIn.add((long) a);
    long last = -1;
    List<Long> unitOut = new ArrayList<>();
    for (int i = 0; i < r; i++) {
      if (unitIn.contains(p[i])) {
        unitOut.add((long) i);
      } else {
        if (p[i] < last) return false; // a real axis moves past another
        last = p[i];
      }
    }
    Value y = t.output(0);
    OnnxBuilder b = new OnnxBuilder(g, ctx.opset(), t.name() + "/unit", t.tfName());
    Value result;
    if (TransposePushRule.isIdentity(p)) {
      if (y.isGraphOutput()) return false;
      result = x;
    } else {
      Node q = x.producer();
      Value squeezed;
      long[] in = unitIn.stream().mapToLong(Long::longValue).toArray();
      if (q != null && q.isOnnx("Unsqueeze") && q.graph() == g && x.useCount() == 1 && q.inputs().size() == 2
          && q.input(1).isConstant() && java.util.Arrays.equals(sorted(q.input(1).constant().toLongs(), r), in)) {
        squeezed = q.input(0);
      } else {
        squeezed = b.squeeze(x, in);
      }
      result = b.unsqueeze(squeezed, unitOut.stream().mapToLong(Long::longValue).toArray());
      result.setShape(y.shape());
    }
    ctx.fused(NAME, "Transpose " + t.describe() + " " + java.util.Arrays.toString(p) + " of " + s
        + " moves only axes of size 1: " + (result == x ? "dropped" : "Unsqueeze"));
    g.replaceAllUses(y, result);
    g.removeNode(t);
    return true;
  }

  private static long[] sorted(long[] axes, int rank) {
    long[] a = new long[axes.length];
    for (int i = 0; i < a.length; i++) a[i] = axes[i] < 0 ? axes[i] + rank : axes[i];
    java.util.Arrays.sort(a);
    return a;
  }
}
