package returnn.onnx.rewrite.lstm;

import java.util.Set;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * Small matchers over the tf-dialect graph (before legalization), where variables are constants behind
 * {@code ReadVariableOp} / {@code <var>/read} Identities and attributes are TF's.
 */
final class TfPatterns {
  /** Ops that pass their input through unchanged at inference. */
  private static final Set<String> PASS_THROUGH = Set.of("Identity", "ReadVariableOp", "Snapshot", "StopGradient",
      "PreventGradient", "EnsureShape");

  private TfPatterns() {}

  /** {@code v} with pass-through ops (Identity, ReadVariableOp, ...) skipped. */
  static Value skipIdentities(Value v) {
    while (v != null && v.producer() != null && v.producer().domain().equals(Node.TF)
        && PASS_THROUGH.contains(v.producer().op()) && v.outputIndex() == 0) {
      v = v.producer().input(0);
    }
    return v;
  }

  /** The tf node of type {@code op} (one of several) producing {@code v} (identities skipped), else null. */
  static Node producer(Value v, String... ops) {
    Value s = skipIdentities(v);
    if (s == null || s.producer() == null) return null;
    Node p = s.producer();
    if (!p.domain().equals(Node.TF)) return null;
    for (String op : ops) if (p.op().equals(op)) return p;
    return null;
  }

  /** The constant behind {@code v} (a Const or a variable read), else null. */
  static Tensor constant(Value v) {
    Value s = skipIdentities(v);
    return s == null ? null : s.constant();
  }

  /** A scalar integer constant (or a 1-element vector), else null. */
  static Long scalarInt(Value v) {
    Tensor t = constant(v);
    if (t == null || t.size() != 1 || !(t.dtype().isInteger())) return null;
    return t.getLong(0);
  }

  /** A scalar float constant, else null. */
  static Double scalarFloat(Value v) {
    Tensor t = constant(v);
    if (t == null || t.size() != 1 || !t.dtype().isFloating()) return null;
    return t.getDouble(0);
  }

  /** True if {@code v} is a float constant of zeros or a {@code Fill(shape, 0)} / {@code ZerosLike} (tf.zeros). */
  static boolean isZeros(Value v) {
    Tensor t = constant(v);
    if (t != null) {
      if (!t.dtype().isFloating()) return false;
      for (long i = 0; i < t.size(); i++) if (t.getDouble(i) != 0) return false;
      return true;
    }
    Node fill = producer(v, "Fill");
    if (fill != null) {
      Double f = scalarFloat(fill.input(1));
      return f != null && f == 0;
    }
    return producer(v, "ZerosLike") != null;
  }

  /** The integer list of a constant ({@code perm}, {@code axis}), else null. */
  static long[] constLongs(Value v) {
    Tensor t = constant(v);
    return t == null || !t.dtype().isInteger() ? null : t.toLongs();
  }

  static boolean boolAttr(Node n, String key, boolean dflt) {
    return n.attr(key) == null ? dflt : n.boolAttr(key, dflt);
  }

  static float floatAttr(Node n, String key, float dflt) {
    return n.attr(key) instanceof Attr.Float f ? f.value() : dflt;
  }

  /** Every use of {@code v} is by {@code user} (and {@code v} is no graph output). */
  static boolean onlyUsedBy(Value v, Node user) {
    if (v.isGraphOutput()) return false;
    for (Value.Use u : v.uses()) if (u.node() != user) return false;
    return true;
  }

  /**
   * Every use of {@code v} is by {@code user} or reads only its shape ({@code Shape}: RETURNN takes the batch size
   * for zero initial states from the projected input, {@code tf.shape(x)[1]}).
   */
  static boolean onlyUsedByOrShape(Value v, Node user) {
    if (v.isGraphOutput()) return false;
    for (Value.Use u : v.uses()) if (u.node() != user && !u.node().is(Node.TF, "Shape")) return false;
    return true;
  }

  /**
   * The same tensor: one value, or two TF Transposes of one value by the same constant permutation (RETURNN makes a
   * time-major copy of the input per layer, so the two layers of a pair read two equal Transposes).
   */
  static boolean sameTensor(Value a, Value b) {
    if (same(a, b)) return true;
    Node ta = producer(a, "Transpose");
    Node tb = producer(b, "Transpose");
    if (ta == null || tb == null || !same(ta.input(0), tb.input(0))) return false;
    long[] pa = constLongs(ta.input(1));
    return pa != null && java.util.Arrays.equals(pa, constLongs(tb.input(1)));
  }

  /** Whether output {@code i} of {@code n} exists and is consumed. */
  static boolean outputUsed(Node n, int i) {
    return i < n.outputs().size() && n.output(i).useCount() > 0;
  }

  /** The same value, seen through identities on both sides. */
  static boolean same(Value a, Value b) {
    return a != null && b != null && skipIdentities(a) == skipIdentities(b);
  }
}
