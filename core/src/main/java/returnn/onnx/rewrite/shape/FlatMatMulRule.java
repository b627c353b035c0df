package returnn.onnx.rewrite.shape;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.eval.ShapeTrace;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * RETURNN's {@code dot} of x [..., K] with a matrix W [K, N]: {@code Reshape(x, [-1, K]) → MatMul(·, W) → Reshape(·,
 * [dim 0 of x, ..., N])}, the target built from {@code tf.shape(x)} by 5 to 8 nodes of shape arithmetic. ONNX MatMul
 * broadcasts over leading axes, so this is {@code MatMul(x, W)}: the two Reshapes and the shape arithmetic go (a
 * Conformer block has 8 such products, about 75 nodes; the 6-block bench Conformer goes from 971 to 619 nodes), the
 * product keeps x's shape for the rules after this one, and a bias Add directly follows its MatMul. The product is the
 * same: ONNX Runtime folds the leading axes of x into the rows of one GEMM either way.
 */
final class FlatMatMulRule extends NodeRule {
  FlatMatMulRule() {
    super("Shapes.FLAT_MATMUL", true);
  }

  @Override
  protected boolean visit(Graph root, Node m, RuleContext ctx) {
    if (!m.isOnnx("MatMul")) return false;
    Node flatten = m.input(0).producer(), restore = onlyConsumer(m.output(0));
    if (flatten == null || !flatten.isOnnx("Reshape") || onlyConsumer(flatten.output(0)) != m) return false;
    if (restore == null || !restore.isOnnx("Reshape") || restore.input(0) != m.output(0)) return false;
    Value x = flatten.input(0), w = m.input(1);
    Long cols = columns(w);
    String why = cols == null ? "the matrix has no fixed [K, N] shape"
        : !flattens(flatten, x) ? "the first Reshape does not flatten x " + x.shape() + " to [-1, K]"
        : !restores(restore, x, cols) ? "the Reshape back's target is not x's leading dims and " + cols : null;
    if (why != null) {
      ctx.decline(name(), m.describe(), why);
      return false;
    }
    Graph g = m.graph();
    g.setInput(m, 0, x);
    List<Dim> dims = new ArrayList<>(x.shape().dims());
    dims.set(dims.size() - 1, Dim.of(cols));
    m.output(0).setShape(Shape.of(dims));
    Value out = restore.output(0);
    if (out.isGraphOutput()) {
      // The model's interface keeps its output name.
      String name = out.name();
      out.setName(m.output(0).name());
      m.output(0).setName(name);
    }
    g.replaceAllUses(out, m.output(0));
    g.removeNode(restore);
    g.removeNode(flatten);
    return true;
  }

  /** N of a [K, N] matrix with a fixed N, or null. */
  private static Long columns(Value w) {
    Shape s = w.shape();
    if (!s.hasRank() || s.rank() != 2 || !s.dim(1).isFixed()) return null;
    return s.dim(1).value();
  }

  /** Whether {@code flatten} reshapes x of rank 3 or more with a fixed last axis K to [-1, K]. */
  private static boolean flattens(Node flatten, Value x) {
    Shape s = x.shape();
    if (!s.hasRank() || s.rank() < 3 || !s.dim(-1).isFixed()) return false;
    long[] c = ShapeTrace.knownValues(ShapeTrace.elems(flatten.input(1)));
    return c != null && c.length == 2 && c[0] == -1 && c[1] == s.dim(-1).value() && flatten.intAttr("allowzero", 0) == 0;
  }

  /** Whether {@code restore}'s target is x's leading dims and then N (or -1 in its place). */
  private static boolean restores(Node restore, Value x, long cols) {
    List<ShapeTrace.Elem> t = ShapeTrace.elems(restore.input(1));
    int rank = x.shape().rank();
    Shape ts = restore.input(1).shape();
    if (t == null || ts.hasRank() && ts.rank() == 0 || t.size() != rank) return false;
    for (int i = 0; i < rank - 1; i++) {
      ShapeTrace.Elem e = t.get(i);
      Dim d = x.shape().dim(i);
      boolean same = e.isDim(x, i) || e.isKnown() && e.value() > 0 && d.isFixed() && d.value() == e.value();
      if (!same) return false;
    }
    ShapeTrace.Elem last = t.get(rank - 1);
    return last.isKnown() && (last.value() == cols || last.value() == -1);
  }

  private static Node onlyConsumer(Value v) {
    return v.isGraphOutput() || v.uses().size() != 1 ? null : v.uses().get(0).node();
  }
}
