package returnn.onnx.rewrite.layout;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * Moves a Transpose that keeps the last axis in place up through the ops that work on the last axis only, as long as
 * that makes the transposed tensor smaller. RETURNN computes its output layer time major and transposes the result
 * ({@code output/output_batch_major}): {@code Transpose(Softmax(x·W + b))} copies the [T,B,V] probabilities, V being a
 * vocabulary (10k-200k) or a set of CART states; {@code Softmax(Transpose(x)·W + b)} copies the [T,B,n] input instead.
 *
 * <p>Each step swaps {@code Transpose(op(x, ...))} into {@code op(Transpose(x), ...)}; that is exact when the perm
 * fixes the last axis and {@code op} is elementwise, a Softmax/LogSoftmax over the last axis, an elementwise binary op
 * with a constant of rank ≤ 1 (broadcast along the last axis), or a MatMul by a constant matrix (it maps each row of
 * the last axis on its own). The Transpose only moves past MatMuls that shrink it going up (more columns than rows),
 * and only if at least one does, so it never grows and the graph is left alone when nothing is gained. Each value it
 * passes must have no other consumer.
 */
public final class TransposeHoistRule extends NodeRule {
  public static final String NAME = "LayoutRules.TRANSPOSE_HOIST";

  private static final Set<String> ELEMENTWISE = Set.of("Relu", "Tanh", "Sigmoid", "Exp", "Log", "Neg", "Abs", "Sqrt",
      "Erf", "Gelu", "Identity");
  private static final Set<String> BINARY = Set.of("Add", "Sub", "Mul", "Div");

  public TransposeHoistRule() {
    super(NAME, false);
  }

  @Override
  protected boolean visit(Graph g, Node t, RuleContext ctx) {
    if (!t.isOnnx("Transpose")) return false;
    long[] perm = t.intsAttr("perm");
    if (perm == null || perm.length < 2 || perm[perm.length - 1] != perm.length - 1) return false;
    List<Step> path = path(g, t, perm.length);
    if (path.isEmpty()) return false;
    for (Step s : path) swap(g, t, s, perm);
    ctx.fused(NAME, "Transpose " + t.describe() + " moved above " + path.size() + " op(s) up to "
        + path.get(path.size() - 1).op().describe() + ": it now copies " + t.output(0).shape() + " instead of "
        + path.get(0).op().output(0).shape());
    return true;
  }

  /** One op the Transpose moves past, with the index of its data input. */
  private record Step(Node op, int data) {}

  /** The ops to move past, nearest first, ending with the last MatMul that shrinks the copy; empty if none does. */
  private static List<Step> path(Graph g, Node t, int rank) {
    List<Step> steps = new ArrayList<>();
    int useful = 0;
    Value v = t.input(0);
    while (true) {
      Node p = v.producer();
      if (p == null || p.graph() != g || p.outputs().size() != 1 || v.useCount() != 1 || v.isGraphOutput()) break;
      int data = dataInput(p, rank);
      if (data < 0) break;
      if (p.isOnnx("MatMul")) {
        long[] w = p.input(1).constant().shape();
        if (w[0] > w[1]) break;
        steps.add(new Step(p, data));
        if (w[0] < w[1]) useful = steps.size();
      } else {
        steps.add(new Step(p, data));
      }
      v = p.input(data);
    }
    return steps.subList(0, useful);
  }

  /** The input the Transpose can move onto, or -1 when {@code p} does not commute with it. */
  private static int dataInput(Node p, int rank) {
    if (!p.domain().equals(Node.ONNX)) return -1;
    String op = p.op();
    if (ELEMENTWISE.contains(op)) return 0;
    if (op.equals("Softmax") || op.equals("LogSoftmax")) {
      long axis = p.intAttr("axis", -1);
      return axis == -1 || axis == rank - 1 ? 0 : -1;
    }
    if (BINARY.contains(op)) {
      for (int k = 0; k < 2; k++) {
        Tensor c = p.input(1 - k).constant();
        if (c != null && c.rank() <= 1 && rankIs(p.input(k), rank)) return k;
      }
      return -1;
    }
    if (op.equals("MatMul")) {
      Tensor w = p.input(1).constant();
      return w != null && w.rank() == 2 && rankIs(p.input(0), rank) ? 0 : -1;
    }
    return -1;
  }

  private static boolean rankIs(Value v, int rank) {
    return v.shape().hasRank() && v.shape().rank() == rank;
  }

  /** {@code Transpose(op(x))} → {@code op(Transpose(x))}; consumers of the Transpose now read {@code op}. */
  private static void swap(Graph g, Node t, Step s, long[] perm) {
    Value tOut = t.output(0);
    Value opOut = s.op().output(0);
    Value x = s.op().input(s.data());
    Shape outShape = tOut.shape();
    g.replaceAllUses(tOut, opOut);
    g.setInput(t, 0, x);
    g.setInput(s.op(), s.data(), tOut);
    tOut.setDtype(x.dtype());
    tOut.setShape(permuted(x.shape(), perm));
    opOut.setShape(outShape);
  }

  private static Shape permuted(Shape s, long[] perm) {
    if (!s.hasRank()) return Shape.UNKNOWN;
    List<Dim> dims = new ArrayList<>();
    for (long p : perm) dims.add(s.dim((int) p));
    return Shape.of(dims);
  }
}
