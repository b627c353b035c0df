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
    long[] p0 = perm(t);
    if (p0 != null && !t.output(0).isGraphOutput() && readShapesThrough(g, t, p0, ctx)) changed[0] = true;
    List<Node> copies = splitForConsumers(g, t, ctx);
    if (copies.size() > 1) changed[0] = true;
    for (Node c : copies) {
      for (Node cur = c; cur != null; ) {
        Node next = pushOnce(g, cur, ctx, changed);
        if (next == cur) break;
        changed[0] = true;
        cur = next;
      }
    }
    return changed[0];
  }

  /**
   * A Transpose with several consumers, each of which it can be pushed through (elementwise ops with scalar extra
   * inputs; broadcasting ops whose other inputs are constants, scalars, the same Transpose, or the output of another
   * such elementwise consumer, e.g. a swish {@code x · Sigmoid(x)}): one copy per consumer, elementwise consumers first,
   * so that each copy is pushed and the copies meet again as operands of the broadcasting op. Otherwise {@code t}
   * alone.
   */
  private static List<Node> splitForConsumers(Graph g, Node t, RuleContext ctx) {
    Value y = t.output(0);
    long[] p = perm(t);
    List<Node> users = new ArrayList<>();
    for (Value.Use u : y.uses()) if (!users.contains(u.node())) users.add(u.node());
    if (p == null || users.size() < 2 || y.isGraphOutput()) return List.of(t);
    Set<Value> unaryOuts = new java.util.HashSet<>();
    for (Node n : users) {
      if (n.graph() != g || !n.domain().equals(Node.ONNX) || n.outputs().size() != 1) return List.of(t);
      Shape os = n.output(0).shape();
      if (!os.hasRank() || os.rank() != p.length) return List.of(t);
      if (UNARY.contains(n.op())) {
        if (n.input(0) != y) return List.of(t);
        for (int i = 1; i < n.inputs().size(); i++) if (n.input(i) != null && !isScalar(n.input(i))) return List.of(t);
        if (n.output(0).useCount() != 1 || n.output(0).isGraphOutput()) return List.of(t);
        unaryOuts.add(n.output(0));
      } else if (!BROADCAST.contains(n.op())) {
        return List.of(t);
      }
    }
    for (Node n : users) {
      if (UNARY.contains(n.op())) continue;
      for (Value v : n.inputs()) {
        if (v == null || v == y) continue;
        if (unaryOuts.contains(v)) {
          if (v.uses().get(0).node() != n) return List.of(t);
          continue;
        }
        if (isScalar(v) || v.isConstant() && v.constant().rank() <= p.length) continue;
        Node q = v.producer();
        if (q != null && q.graph() == g && q.isOnnx("Transpose") && Arrays.equals(perm(q), p)) continue;
        return List.of(t);
      }
    }
    users.sort((a, c) -> Boolean.compare(!UNARY.contains(a.op()), !UNARY.contains(c.op())));
    List<Node> copies = new ArrayList<>();
    for (int k = 0; k < users.size(); k++) {
      Node n = users.get(k);
      Node c = k == 0 ? t : g.addNode(Node.ONNX, "Transpose", t.name() + "_" + k, t.tfName(), List.of(t.input(0)), 1);
      if (k > 0) {
        c.set("perm", new Attr.Ints(p));
        c.output(0).setDtype(y.dtype());
        c.output(0).setShape(y.shape());
        for (int i = 0; i < n.inputs().size(); i++) if (n.input(i) == y) g.setInput(n, i, c.output(0));
      }
      copies.add(c);
    }
    return copies;
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
    } else if (op.equals("Unsqueeze")) {
      // Unsqueeze(Transpose(x, p), axes) = Transpose(Unsqueeze(x, [r..r+k-1]), p'): the unit axes are appended to x
      // and p' puts them where the axes say.
      if (n.input(0) != y) return t;
      boolean axesInput = ctx.opset() >= 13;
      long[] axes = axesInput ? (in.size() > 1 && in.get(1) != null && in.get(1).isConstant()
          ? in.get(1).constant().toLongs() : null) : n.intsAttr("axes");
      if (axes == null || axes.length == 0) return t;
      int ro = r + axes.length;
      boolean[] fresh = new boolean[ro];
      for (long a : axes) {
        int k = (int) norm(a, ro);
        if (k < 0 || k >= ro || fresh[k]) return t;
        fresh[k] = true;
      }
      long[] appended = new long[axes.length];
      outPerm = new long[ro];
      for (int j = 0, old = 0, k = 0; j < ro; j++) {
        if (fresh[j]) {
          appended[k] = r + k;
          outPerm[j] = r + k++;
        } else {
          outPerm[j] = p[old++];
        }
      }
      in.set(0, x);
      if (axesInput) in.set(1, b.constLongs(appended));
      else attrs.put("axes", new Attr.Ints(appended));
    } else if (op.equals("Reshape")) {
      if (n.input(0) != y) return t;
      outPerm = reshapeThrough(b, n, x, p, in, ctx);
      if (outPerm == null) return t;
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
   * {@code Reshape(Transpose(x, p), s)} as {@code Transpose(Reshape(x, s'), p')} when the Reshape only merges or splits
   * runs of axes that are adjacent and in order in {@code x} too (an identity Reshape, whose dims equal its input's,
   * is the simplest case). The runs are matched by equal dims (fixed or the same symbol) or equal products of fixed
   * dims. {@code s'} is {@code s} with its runs in x's order (a Gather of a computed shape). Not with
   * {@code allowzero=0} and a shape that may hold a 0 (it would copy the dim of another axis). Sets {@code in};
   * null when not exact.
   */
  private static long[] reshapeThrough(OnnxBuilder b, Node n, Value x, long[] p, List<Value> in, RuleContext ctx) {
    Shape ys = n.input(0).shape();
    Shape os = n.output(0).shape();
    Value shape = n.input(1);
    if (!ys.hasRank() || !os.hasRank() || shape == null) return null;
    // Dims unknown statically but read at run time from the same tensor axis are equal: name them by that axis.
    Dim[] yd = new Dim[ys.rank()];
    for (int a = 0; a < yd.length; a++) yd[a] = known(ys.dim(a)) ? ys.dim(a) : Dim.sym("#" + x.name() + ":" + p[a]);
    ys = Shape.of(yd);
    Dim[] od = new Dim[os.rank()];
    for (int a = 0; a < od.length; a++) {
      od[a] = os.dim(a);
      if (known(od[a])) continue;
      Object[] src = dimSource(shape, a, 0);
      if (src == null) continue;
      Value v = (Value) src[0];
      long axis = (Long) src[1];
      if (v == x) od[a] = Dim.sym("#" + x.name() + ":" + axis);
      else if (v == n.input(0)) od[a] = Dim.sym("#" + x.name() + ":" + p[(int) axis]);
    }
    os = Shape.of(od);
    long[] constShape = shape.isConstant() ? shape.constant().toLongs() : null;
    if (n.intAttr("allowzero", 0) == 0) {
      if (constShape == null) return null;
      for (long d : constShape) if (d == 0) return null;
    }
    int ri = ys.rank();
    int ro = os.rank();
    // groups: {i0, i1, j0, j1} (input axes [i0, i1) of the transposed tensor, output axes [j0, j1))
    List<int[]> groups = new ArrayList<>();
    int i = 0;
    int j = 0;
    while (i < ri && j < ro) {
      Dim a = ys.dim(i);
      Dim c = os.dim(j);
      if (known(a) && a.equals(c)) {
        groups.add(new int[] {i, i + 1, j, j + 1});
        i++;
        j++;
        continue;
      }
      int i0 = i;
      int j0 = j;
      if (!a.isFixed() || !c.isFixed()) return null;
      long pi = a.value();
      long po = c.value();
      i++;
      j++;
      while (pi != po) {
        if (pi < po) {
          if (i >= ri || !ys.dim(i).isFixed()) return null;
          pi *= ys.dim(i++).value();
        } else {
          if (j >= ro || !os.dim(j).isFixed()) return null;
          po *= os.dim(j++).value();
        }
      }
      groups.add(new int[] {i0, i, j0, j});
    }
    if (i != ri || j != ro) return null;
    for (int[] gr : groups) for (int k = gr[0] + 1; k < gr[1]; k++) if (p[k] != p[k - 1] + 1) return null;
    List<int[]> ordered = new ArrayList<>(groups);
    ordered.sort((u, v) -> Long.compare(p[u[0]], p[v[0]]));
    long[] gather = new long[ro];
    int[] newPos = new int[ro];
    int k = 0;
    for (int[] gr : ordered) {
      for (int jj = gr[2]; jj < gr[3]; jj++) {
        newPos[jj] = k;
        gather[k++] = jj;
      }
    }
    long[] outPerm = new long[ro];
    for (int jj = 0; jj < ro; jj++) outPerm[jj] = newPos[jj];
    in.set(0, x);
    if (constShape != null) {
      long[] moved = new long[ro];
      for (int jj = 0; jj < ro; jj++) moved[jj] = constShape[(int) gather[jj]];
      in.set(1, b.constLongs(moved));
    } else if (!isIdentity(outPerm)) {
      in.set(1, b.gather(shape, b.constLongs(gather), 0));
    }
    return outPerm;
  }

  /**
   * Which tensor's axis element {@code j} of the shape vector {@code s} reads at run time ({@code Gather(Shape(v), k)}
   * through Cast, Unsqueeze and Concat), as {tensor, axis}; null when it cannot tell.
   */
  private static Object[] dimSource(Value s, long j, int depth) {
    Node q = s.producer();
    if (q == null || depth > 8 || !q.domain().equals(Node.ONNX)) return null;
    switch (q.op()) {
      case "Cast":
      case "Identity":
        return dimSource(q.input(0), j, depth + 1);
      case "Unsqueeze":
        return j == 0 && q.input(0).shape().hasRank() && q.input(0).shape().rank() == 0 ? dimSource(q.input(0), -1, depth + 1) : null;
      case "Concat": {
        long off = 0;
        for (Value part : q.inputs()) {
          Shape ps = part.shape();
          if (!ps.hasRank() || ps.rank() != 1 || !ps.dim(0).isFixed()) return null;
          long len = ps.dim(0).value();
          if (j < off + len) return dimSource(part, j - off, depth + 1);
          off += len;
        }
        return null;
      }
      case "Gather": {
        Node sh = q.input(0).producer();
        while (sh != null && sh.isOnnx("Cast")) sh = sh.input(0).producer();
        if (sh == null || !sh.isOnnx("Shape") || sh.attr("start") != null || sh.attr("end") != null) return null;
        if (q.intAttr("axis", 0) != 0 || !q.input(1).isConstant()) return null;
        long[] idx = q.input(1).constant().toLongs();
        int rank = q.input(1).constant().rank();
        long k;
        if (j < 0) {
          if (rank != 0 && idx.length != 1) return null;
          k = idx[0];
        } else {
          if (rank != 1 || j >= idx.length) return null;
          k = idx[(int) j];
        }
        Shape vs = sh.input(0).shape();
        if (!vs.hasRank()) return null;
        if (k < 0) k += vs.rank();
        return new Object[] {sh.input(0), k};
      }
      default:
        return null;
    }
  }

  private static boolean known(Dim d) {
    return d.isFixed() || d.isSymbolic();
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
