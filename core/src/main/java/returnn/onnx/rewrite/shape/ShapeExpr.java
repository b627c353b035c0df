package returnn.onnx.rewrite.shape;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.eval.Shapes;

/**
 * What a small integer tensor computed from shapes holds, element by element: a constant, or "axis i of value v".
 * RETURNN computes every dynamic shape from {@code tf.shape} ({@code Shape}, {@code StridedSlice}, {@code Pack},
 * casts between int32 and int64), which legalizes to chains of Shape, Cast, Gather, Slice, Unsqueeze, Squeeze and
 * Concat; reading such a chain back as a list of elements shows, for example, that a Reshape target is
 * {@code [dim 0 of x, dim 1 of x, 256]}. Dims that are fixed in the value's shape read as constants.
 *
 * @param elements the elements, one for a scalar
 * @param scalar whether the tensor is a scalar (rank 0) rather than a vector
 */
record ShapeExpr(List<Element> elements, boolean scalar) {
  /** Chains longer than this are not followed (RETURNN's are 4 to 8 nodes deep). */
  private static final int MAX_DEPTH = 16;
  /** Vectors longer than this are not shapes. */
  private static final int MAX_LENGTH = 16;

  /** One element: the constant {@code value} if {@code of} is null, otherwise the size of axis {@code axis} of {@code of}. */
  record Element(long value, Value of, int axis) {
    static Element constant(long v) {
      return new Element(v, null, -1);
    }

    boolean isConstant() {
      return of == null;
    }

    /** Whether this is the size of axis {@code i} of {@code v}. */
    boolean isDim(Value v, int i) {
      return of == v && axis == i;
    }
  }

  /** The elements of integer tensor {@code v}, or null if it is not computed from constants and shapes alone. */
  static ShapeExpr of(Value v) {
    return of(v, 0);
  }

  private static ShapeExpr of(Value v, int depth) {
    if (v == null || depth > MAX_DEPTH || v.dtype() != null && !isIndex(v.dtype())) return null;
    if (v.isConstant()) return constant(v.constant());
    Node n = v.producer();
    if (n == null || !n.domain().equals(Node.ONNX) || n.outputs().size() != 1 && !n.isOnnx("Split")) return null;
    return switch (n.op()) {
      case "Shape" -> shape(n);
      case "Cast" -> isIndex(castTarget(n)) ? of(n.input(0), depth + 1) : null;
      case "Gather" -> gather(n, depth);
      case "Unsqueeze" -> unsqueeze(n, depth);
      case "Squeeze" -> squeeze(n, depth);
      case "Concat" -> concat(n, depth);
      case "Slice" -> slice(n, depth);
      default -> null;
    };
  }

  /** The constant elements, or null if any is a dim. */
  long[] constants() {
    long[] c = new long[elements.size()];
    for (int i = 0; i < c.length; i++) {
      if (!elements.get(i).isConstant()) return null;
      c[i] = elements.get(i).value();
    }
    return c;
  }

  /** An ONNX Cast's {@code to}: an int attribute holding the ONNX type code. */
  private static DType castTarget(Node cast) {
    long code = cast.intAttr("to", 0);
    for (DType t : DType.values()) if (t.onnxCode == code) return t;
    return null;
  }

  private static boolean isIndex(DType t) {
    return t == DType.INT32 || t == DType.INT64;
  }

  private static ShapeExpr constant(Tensor t) {
    if (t.rank() > 1 || t.size() > MAX_LENGTH || !isIndex(t.dtype())) return null;
    List<Element> e = new ArrayList<>();
    for (long i = 0; i < t.size(); i++) e.add(Element.constant(t.getLong(i)));
    return new ShapeExpr(e, t.rank() == 0);
  }

  /** Shape(v) with its optional start/end (opset 15); fixed dims of v read as constants. */
  private static ShapeExpr shape(Node n) {
    Value v = n.input(0);
    Shape s = v.shape();
    if (!s.hasRank()) return null;
    int rank = s.rank();
    int start = Shapes.shapeBound(n.intAttr("start", 0), rank), end = Shapes.shapeBound(n.intAttr("end", rank), rank);
    List<Element> e = new ArrayList<>();
    for (int i = start; i < end; i++) {
      Dim d = s.dim(i);
      e.add(d.isFixed() ? Element.constant(d.value()) : new Element(-1, v, i));
    }
    return new ShapeExpr(e, false);
  }

  private static ShapeExpr gather(Node n, int depth) {
    if (n.intAttr("axis", 0) != 0) return null;
    ShapeExpr data = of(n.input(0), depth + 1), idx = of(n.input(1), depth + 1);
    long[] at = idx == null ? null : idx.constants();
    if (data == null || data.scalar || at == null) return null;
    List<Element> e = new ArrayList<>();
    int size = data.elements.size();
    for (long i : at) {
      long k = i < 0 ? i + size : i;
      if (k < 0 || k >= size) return null;
      e.add(data.elements.get((int) k));
    }
    return new ShapeExpr(e, idx.scalar);
  }

  private static ShapeExpr unsqueeze(Node n, int depth) {
    ShapeExpr x = of(n.input(0), depth + 1);
    long[] axes = axes(n);
    if (x == null || !x.scalar || axes == null || axes.length != 1 || axes[0] != 0 && axes[0] != -1) return null;
    return new ShapeExpr(x.elements, false);
  }

  private static ShapeExpr squeeze(Node n, int depth) {
    ShapeExpr x = of(n.input(0), depth + 1);
    long[] axes = axes(n);
    if (x == null || x.scalar || x.elements.size() != 1 || axes != null && (axes.length != 1 || axes[0] != 0 && axes[0] != -1)) return null;
    return new ShapeExpr(x.elements, true);
  }

  /** Unsqueeze/Squeeze axes: an attribute before opset 13, a constant input since. */
  private static long[] axes(Node n) {
    long[] a = n.intsAttr("axes");
    if (a != null) return a;
    if (n.inputs().size() < 2 || n.input(1) == null) return null;
    return n.input(1).isConstant() ? n.input(1).constant().toLongs() : new long[] {Long.MIN_VALUE};
  }

  private static ShapeExpr concat(Node n, int depth) {
    if (n.intAttr("axis", 0) != 0 && n.intAttr("axis", 0) != -1) return null;
    List<Element> e = new ArrayList<>();
    for (Value in : n.inputs()) {
      ShapeExpr x = of(in, depth + 1);
      if (x == null || x.scalar) return null;
      e.addAll(x.elements);
    }
    return e.size() > MAX_LENGTH ? null : new ShapeExpr(e, false);
  }

  /** Slice of a vector with constant starts/ends, axis 0 and step 1. */
  private static ShapeExpr slice(Node n, int depth) {
    ShapeExpr x = of(n.input(0), depth + 1);
    if (x == null || x.scalar) return null;
    for (int i = 3; i < n.inputs().size(); i++) {
      Value p = n.input(i);
      if (p == null) continue;
      if (!p.isConstant() || p.constant().size() != 1) return null;
      long v = p.constant().getLong(0);
      if (i == 3 && v != 0 && v != -1 || i == 4 && v != 1) return null;
    }
    Tensor from = n.input(1).constant(), to = n.input(2).constant();
    if (from == null || to == null || from.size() != 1 || to.size() != 1) return null;
    int size = x.elements.size();
    long s = from.getLong(0), e = to.getLong(0);
    s = Math.max(0, Math.min(size, s < 0 ? s + size : s));
    e = Math.max(0, Math.min(size, e < 0 ? e + size : e));
    return new ShapeExpr(s < e ? List.copyOf(x.elements.subList((int) s, (int) e)) : List.of(), false);
  }
}
