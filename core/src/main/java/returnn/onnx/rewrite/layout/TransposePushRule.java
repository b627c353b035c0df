package returnn.onnx.rewrite.layout;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * Pushes a Transpose down past the ops that do not care about the layout, so that it meets the inverse Transpose in
 * front of the next Conv/pool and the pair cancels ({@code Cleanups.CANCEL_TRANSPOSES}). TF convolutions and pools are
 * NHWC and ONNX's are NCHW, so every one of them converts to {@code Transpose → Conv → Transpose}; what sits between
 * two of them in TF (bias, batch norm as Mul + Add, Relu6, padding, a residual Add) then sits between an NCHW→NHWC
 * and an NHWC→NCHW Transpose.
 *
 * <p>{@code op(Transpose(x, p), ...)} becomes {@code Transpose(op(x, ...), p')}; exact for: elementwise ops;
 * broadcasting ops whose other inputs are constants (extended to the rank with leading 1s and transposed by the
 * inverse perm), scalars, or Transposes by the same perm (their input is used); Concat (axis {@code p[axis]}); Pad
 * (pads permuted); Softmax/LogSoftmax (axis {@code p[axis]}); reductions and Squeeze (axes {@code p[a]}; without
 * keepdims the perm left on the remaining axes, which is often the identity: a global average pool of an NHWC tensor
 * needs no Transpose at all). The pushed Transpose's value must have this one consumer (and not be a graph output).
 * A Shape of the transposed value reads the input's shape instead. The number of Transposes never grows: the one pushed dies, one comes out after the op, and Transposes of other
 * inputs die with their last use. Each Transpose is pushed as far as it goes in one step.
 */
public final class TransposePushRule extends NodeRule {
  public static final String NAME = "LayoutRules.TRANSPOSE_PUSH";

  /** Ops applied element by element to input 0; other inputs (Clip's min and max) must be scalars. */
  private static final Set<String> UNARY = Set.of("Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid",
      "HardSwish", "Tanh", "Softplus", "Softsign", "Exp", "Log", "Neg", "Abs", "Sqrt", "Reciprocal", "Erf", "Floor",
      "Ceil", "Round", "Sign", "Sin", "Cos", "Identity", "Cast", "Not", "IsNaN", "IsInf", "Clip", "Gelu", "Mish",
      "Dropout");
  /** Ops that broadcast their inputs against each other (numpy rules) and work element by element. */
  private static final Set<String> BROADCAST = Set.of("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean",
      "Mod", "PRelu", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Where");
  private static final Set<String> REDUCE = Set.of("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
      "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare");

  public TransposePushRule() {
    super(NAME, false);
  }

  @Override
  protected boolean visit(Graph g, Node t, RuleContext ctx) {
    if (!t.isOnnx("Transpose")) return false;
    boolean[] changed = {false};
    for (Node cur = t; cur != null; ) {
      Node next = pushOnce(g, cur, ctx, changed);
      if (next == cur) break;
      changed[0] = true;
      cur = next;
    }
    return changed[0];
  }

  /**
   * Pushes {@code t} past its consumer. Returns {@code t} itself when it stays, else the Transpose now after the
   * consumer (null when none was needed, or the consumer had several outputs).
   */
  private static Node pushOnce(Graph g, Node t, RuleContext ctx, boolean[] changed) {
    long[] p = perm(t);
    Value y = t.output(0);
    if (p == null || y.isGraphOutput()) return t;
    if (readShapesThrough(g, t, p, ctx)) changed[0] = true;
    if (y.uses().isEmpty()) {
      if (!changed[0]) return t;
      g.removeNode(t);
      return null;
    }
    Node n = y.uses().get(0).node();
    for (Value.Use u : y.uses()) if (u.node() != n) return t;
    if (n.graph() != g || !n.domain().equals(Node.ONNX) || n.outputs().size() != 1) return t;
    int r = p.length;
    long[] inv = inverse(p);
    String op = n.op();
    OnnxBuilder b = new OnnxBuilder(g, ctx.opset(), n.name() + "/layout", n.tfName());
    List<Value> in = new ArrayList<>(n.inputs());
    Map<String, Attr> attrs = new java.util.LinkedHashMap<>(n.attrs());
    long[] outPerm = p;
    Value x = t.input(0);
    if (UNARY.contains(op)) {
      if (n.input(0) != y) return t;
      in.set(0, x);
      for (int i = 1; i < in.size(); i++) if (in.get(i) != null && !isScalar(in.get(i))) return t;
    } else if (BROADCAST.contains(op) || op.equals("Concat")) {
      if (op.equals("Concat")) {
        long axis = n.intAttr("axis", 0);
        attrs.put("axis", new Attr.Int(p[(int) norm(axis, r)]));
      }
      for (int i = 0; i < in.size(); i++) {
        Value v = in.get(i);
        if (v == null) continue;
        Value moved = v == y ? x : operand(b, v, p, inv, op.equals("Concat"));
        if (moved == null) {
          ctx.decline(NAME, n.describe(), "input " + i + " (" + v.name() + ") is neither a constant, a scalar nor "
              + "transposed by " + Arrays.toString(p));
          return t;
        }
        in.set(i, moved);
      }
    } else if (op.equals("Softmax") || op.equals("LogSoftmax")) {
      if (ctx.opset() < 13) return t;
      attrs.put("axis", new Attr.Int(p[(int) norm(n.intAttr("axis", -1), r)]));
      in.set(0, x);
    } else if (op.equals("Pad")) {
      if (n.input(0) != y || in.size() > 3 && in.get(3) != null || !n.input(1).isConstant()) return t;
      long[] pads = n.input(1).constant().toLongs();
      if (pads.length != 2 * r) return t;
      long[] moved = new long[2 * r];
      for (int i = 0; i < r; i++) {
        moved[(int) p[i]] = pads[i];
        moved[r + (int) p[i]] = pads[r + i];
      }
      in.set(0, x);
      in.set(1, b.constLongs(moved));
    } else if (REDUCE.contains(op) || op.equals("Squeeze")) {
      if (n.input(0) != y) return t;
      boolean axesInput = op.equals("Squeeze") || op.equals("ReduceSum") ? ctx.opset() >= 13 : ctx.opset() >= 18;
      long[] axes = axesInput ? (in.size() > 1 && in.get(1) != null && in.get(1).isConstant()
          ? in.get(1).constant().toLongs() : null) : n.intsAttr("axes");
      if (axes == null || axes.length == 0) return t; // all axes, or ones known only at run time
      long[] moved = new long[axes.length];
      boolean[] gone = new boolean[r];
      for (int i = 0; i < axes.length; i++) {
        int a = (int) norm(axes[i], r);
        moved[i] = p[a];
        gone[a] = true;
      }
      if (axesInput) in.set(1, b.constLongs(moved));
      else attrs.put("axes", new Attr.Ints(moved));
      in.set(0, x);
      boolean keep = !op.equals("Squeeze") && n.intAttr("keepdims", 1) == 1;
      if (!keep) outPerm = remaining(p, gone);
    } else {
      return t;
    }
    Value out = n.output(0);
    if (!out.shape().hasRank() || out.shape().rank() != outPerm.length) return t;
    Node moved = g.addNode(Node.ONNX, op, n.name(), n.tfName(), in, 1);
    attrs.forEach(moved::set);
    moved.output(0).setDtype(out.dtype());
    moved.output(0).setShape(unpermuted(out.shape(), outPerm));
    Node after = null;
    if (isIdentity(outPerm)) {
      g.replaceAllUses(out, moved.output(0));
    } else {
      after = g.addNode(Node.ONNX, "Transpose", t.name(), t.tfName(), List.of(moved.output(0)), 1);
      after.set("perm", new Attr.Ints(outPerm));
      after.output(0).setDtype(out.dtype());
      after.output(0).setShape(out.shape());
      g.replaceAllUses(out, after.output(0));
    }
    List<Node> dead = new ArrayList<>(List.of(n, t));
    for (Value v : n.inputs()) {
      Node q = v == null ? null : v.producer();
      if (q != null && q != t && q.isOnnx("Transpose") && !dead.contains(q)) dead.add(q);
    }
    g.removeNode(n);
    for (Node q : dead.subList(1, dead.size())) if (q.output(0).useCount() == 0 && !q.output(0).isGraphOutput()) g.removeNode(q);
    return after;
  }

  /**
   * {@code Shape(Transpose(x, p))} is {@code Gather(Shape(x), p)}: a Shape alone (RETURNN reads tf.shape of most
   * layers) does not keep a Transpose alive. True if there was one.
   */
  private static boolean readShapesThrough(Graph g, Node t, long[] p, RuleContext ctx) {
    boolean any = false;
    for (Value.Use u : new ArrayList<>(t.output(0).uses())) {
      Node shape = u.node();
      if (!shape.isOnnx("Shape") || shape.graph() != g || shape.attr("start") != null || shape.attr("end") != null) continue;
      OnnxBuilder b = new OnnxBuilder(g, ctx.opset(), shape.name() + "/layout", shape.tfName());
      Value dims = b.gather(b.shapeOf(t.input(0)), b.constLongs(p), 0);
      g.replaceAllUses(shape.output(0), dims);
      g.removeNode(shape);
      any = true;
    }
    return any;
  }

  /**
   * {@code v} as the input of the op moved before the Transpose: a Transpose by the same perm gives its input; a scalar
   * (or one element) stays; a constant (not for Concat, where it has the full rank) gets leading 1s and the inverse
   * perm. Null when none applies.
   */
  private static Value operand(OnnxBuilder b, Value v, long[] p, long[] inv, boolean concat) {
    Node q = v.producer();
    if (q != null && q.graph() == b.graph() && q.isOnnx("Transpose") && Arrays.equals(perm(q), p)) return q.input(0);
    int r = p.length;
    if (!concat && isScalar(v)) return v;
    Tensor c = v.constant();
    if (c == null || c.rank() > r || concat && c.rank() != r) return null;
    if (!concat && c.size() == 1) return v;
    long[] ext = new long[r];
    Arrays.fill(ext, 1);
    System.arraycopy(c.shape(), 0, ext, r - c.rank(), c.rank());
    return b.transpose(b.constant(c.reshape(ext)), inv);
  }

  private static boolean isScalar(Value v) {
    return v.shape().hasRank() && v.shape().rank() == 0;
  }

  static long[] perm(Node t) {
    long[] p = t.intsAttr("perm");
    if (p != null) return p;
    Shape s = t.input(0).shape();
    if (!s.hasRank()) return null;
    long[] rev = new long[s.rank()];
    for (int i = 0; i < rev.length; i++) rev[i] = rev.length - 1 - i;
    return rev;
  }

  static long[] inverse(long[] p) {
    long[] inv = new long[p.length];
    for (int i = 0; i < p.length; i++) inv[(int) p[i]] = i;
    return inv;
  }

  static boolean isIdentity(long[] p) {
    for (int i = 0; i < p.length; i++) if (p[i] != i) return false;
    return true;
  }

  private static long norm(long axis, int rank) {
    return axis < 0 ? axis + rank : axis;
  }

  /**
   * The perm of the reduced tensors when the transposed tensor's axes {@code goneOut} are dropped: its k-th kept axis
   * is input axis {@code p[i]}, which is axis {@code newIndex[p[i]]} of the reduced input.
   */
  private static long[] remaining(long[] p, boolean[] goneOut) {
    int r = p.length;
    boolean[] goneIn = new boolean[r];
    for (int i = 0; i < r; i++) if (goneOut[i]) goneIn[(int) p[i]] = true;
    int[] newIndex = new int[r];
    int k = 0;
    for (int a = 0; a < r; a++) newIndex[a] = goneIn[a] ? -1 : k++;
    long[] q = new long[k];
    int j = 0;
    for (int i = 0; i < r; i++) if (!goneOut[i]) q[j++] = newIndex[(int) p[i]];
    return q;
  }

  /** The shape {@code s'} with {@code Transpose(s', perm) = s}. */
  static Shape unpermuted(Shape s, long[] perm) {
    Dim[] dims = new Dim[perm.length];
    for (int i = 0; i < perm.length; i++) dims[(int) perm[i]] = s.dim(i);
    return Shape.of(dims);
  }
}
