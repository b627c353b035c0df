package returnn.onnx.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * Element type and shape of ONNX node outputs. Types are always set (handlers rely on input dtypes); shapes are
 * computed where they follow statically, with symbolic dims carried through, and left unknown otherwise.
 */
public final class TypeInference {
  private static final Set<String> BOOL_OUT = Set.of("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
      "And", "Or", "Xor", "Not", "IsNaN", "IsInf");
  private static final Set<String> INT64_OUT = Set.of("Shape", "Size", "ArgMax", "ArgMin", "NonZero");
  private static final Set<String> SAME_SHAPE = Set.of("Identity", "Neg", "Abs", "Sign", "Sqrt", "Exp", "Log",
      "Reciprocal", "Relu", "Elu", "Selu", "LeakyRelu", "Softplus", "Tanh", "Sigmoid", "Erf", "Softmax",
      "LogSoftmax", "Cast", "Not", "Floor", "Ceil", "Round", "Clip", "CumSum", "HardSigmoid", "Gelu", "IsNaN",
      "IsInf", "Dropout", "LayerNormalization", "BatchNormalization", "CastLike", "ReverseSequence", "Hardmax",
      "Sin", "Cos", "Softsign", "Mish", "Swish", "QuickGelu", "FastGelu", "BiasGelu", "SkipLayerNormalization",
      "RandomUniformLike", "RandomNormalLike", "Bernoulli", "ScatterND", "ScatterElements");
  private static final Set<String> BROADCAST = Set.of("Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less",
      "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor", "PRelu", "Max", "Min", "Sum", "Mean", "Where",
      "BitShift");

  private TypeInference() {}

  /** A shape that depends on values known only at run time: no shape, and no error. */
  static final class UnknownShape extends RuntimeException {
    UnknownShape(String message) {
      super(message, null, false, false);
    }
  }

  public static void infer(Node n, int opset) {
    List<Value> in = n.inputs();
    DType d0 = in.isEmpty() || in.get(0) == null ? null : in.get(0).dtype();
    String op = n.op();
    for (int i = 0; i < n.outputs().size(); i++) {
      Value out = n.output(i);
      if (out.dtype() == null) out.setDtype(dtype(n, i, d0));
    }
    try {
      Shape s = shape(n, opset);
      if (s != null && !n.outputs().isEmpty() && !n.output(0).shape().hasRank()) n.output(0).setShape(s);
    } catch (UnknownShape | IllegalArgumentException e) {
      // Not knowable before run time (axes computed at run time), or shapes the graph gets wrong: the runtime reports
      // those with the real inputs.
    } catch (RuntimeException e) {
      // Shapes are an aid, not a requirement; a rule that needs one checks for it. But an exception here is a bug:
      // recorded (and thrown in the tests).
      returnn.onnx.InternalErrors.record("shape inference of " + n.op() + " '" + n.name() + "'", e);
    }
    if (op.equals("Split") || op.equals("TopK")) splitShapes(n, opset);
    if (n.domain().isEmpty() && (op.equals("Loop") || op.equals("If"))) controlFlowShapes(n);
  }

  /**
   * Before a Loop body is legalized: loop-carried body inputs the rule could not type take the dtype of the Loop's
   * initial value and its rank with every dim unknown (a carried value may change size between iterations).
   */
  public static void bindLoopBody(Node loop) {
    Graph body = ((Attr.GraphVal) loop.attr("body")).value();
    for (int i = 2; i < body.inputs().size() && i < loop.inputs().size(); i++) {
      Value in = body.inputs().get(i);
      Value init = loop.input(i);
      if (init == null) continue;
      if (in.dtype() == null) in.setDtype(init.dtype());
      if (!in.shape().hasRank() && init.shape().hasRank()) in.setShape(unknownOfRank(init.shape().rank()));
    }
  }

  /**
   * Loop: carried outputs have the body input's (invariant) shape, scan outputs the body output's with the iterations
   * in front. If: dims both branches agree on.
   */
  private static void controlFlowShapes(Node n) {
    for (int i = 0; i < n.outputs().size(); i++) {
      Value out = n.output(i);
      if (out.shape().hasRank()) continue;
      Shape s;
      if (n.op().equals("Loop")) {
        Graph body = ((Attr.GraphVal) n.attr("body")).value();
        int carried = body.inputs().size() - 2;
        if (i < carried) {
          s = body.inputs().get(i + 2).shape();
        } else {
          Shape e = body.outputs().get(i + 1).shape();
          List<Dim> d = new ArrayList<>(List.of(Dim.UNKNOWN));
          if (e.hasRank()) d.addAll(e.dims());
          s = e.hasRank() ? Shape.of(d) : Shape.UNKNOWN;
        }
      } else {
        Shape a = ((Attr.GraphVal) n.attr("then_branch")).value().outputs().get(i).shape();
        Shape b = ((Attr.GraphVal) n.attr("else_branch")).value().outputs().get(i).shape();
        if (!a.hasRank() || !b.hasRank() || a.rank() != b.rank()) continue;
        List<Dim> d = new ArrayList<>();
        for (int k = 0; k < a.rank(); k++) d.add(a.dim(k).equals(b.dim(k)) ? a.dim(k) : Dim.UNKNOWN);
        s = Shape.of(d);
      }
      out.setShape(s);
    }
  }

  private static DType dtype(Node n, int i, DType d0) {
    String op = n.op();
    if (op.equals("Dropout") && i == 1) return DType.BOOL; // the mask
    if (BOOL_OUT.contains(op)) return DType.BOOL;
    if (INT64_OUT.contains(op)) return DType.INT64;
    switch (op) {
      case "Cast":
        return DType.fromOnnx((int) n.intAttr("to", 1));
      case "CastLike":
        return n.input(1).dtype();
      case "Constant":
        return ((Attr.TensorVal) n.attr("value")).value().dtype();
      case "ConstantOfShape":
        return n.attr("value") instanceof Attr.TensorVal t ? t.value().dtype() : DType.FLOAT;
      case "Where":
        return n.input(1).dtype();
      case "TopK":
        return i == 0 ? d0 : DType.INT64;
      case "OneHot":
        return n.input(2).dtype();
      case "DynamicQuantizeLinear":
        return i == 1 ? DType.FLOAT : DType.UINT8;
      case "MatMulInteger":
      case "ConvInteger":
        return DType.INT32;
      case "DequantizeLinear":
        return DType.FLOAT;
      case "QuantizeLinear":
        return n.input(2) != null ? n.input(2).dtype() : DType.UINT8;
      case "DynamicQuantizeMatMul":
      case "DynamicQuantizeLSTM":
      case "MatMulIntegerToFloat":
        return DType.FLOAT;
      case "MultiHeadAttention":
      case "Attention":
        return n.input(0).dtype();
      case "Loop": {
        Graph body = ((Attr.GraphVal) n.attr("body")).value();
        return body.outputs().get(i + 1).dtype();
      }
      case "If": {
        Graph then = ((Attr.GraphVal) n.attr("then_branch")).value();
        return then.outputs().get(i).dtype();
      }
      case "Scan": {
        Graph body = ((Attr.GraphVal) n.attr("body")).value();
        return body.outputs().get(i).dtype();
      }
      default:
        return d0;
    }
  }

  private static Shape shape(Node n, int opset) {
    String op = n.op();
    List<Value> in = n.inputs();
    Shape s0 = in.isEmpty() || in.get(0) == null ? Shape.UNKNOWN : in.get(0).shape();
    if (SAME_SHAPE.contains(op)) return s0;
    if (BROADCAST.contains(op)) {
      Shape s = s0;
      for (int i = 1; i < in.size(); i++) s = Shapes.broadcast(s, in.get(i).shape());
      return s;
    }
    switch (op) {
      case "Constant":
        return Shape.of(((Attr.TensorVal) n.attr("value")).value().shape());
      case "Shape": {
        if (!s0.hasRank()) return Shape.of(Dim.UNKNOWN);
        int r = s0.rank();
        int start = Shapes.shapeBound(n.intAttr("start", 0), r), end = Shapes.shapeBound(n.intAttr("end", r), r);
        return Shape.of(Math.max(0, end - start));
      }
      case "Size":
        return Shape.SCALAR;
      case "MatMul":
      case "MatMulInteger":
      case "DynamicQuantizeMatMul":
      case "MatMulIntegerToFloat":
        return matmul(s0, in.get(1).shape());
      case "Transpose": {
        if (!s0.hasRank()) return null;
        long[] perm = n.intsAttr("perm");
        List<Dim> d = new ArrayList<>();
        for (int i = 0; i < s0.rank(); i++) d.add(s0.dim(perm == null ? s0.rank() - 1 - i : (int) perm[i]));
        return Shape.of(d);
      }
      case "Reshape": {
        Tensor t = in.get(1).constant();
        if (t == null) {
          Shape ts = in.get(1).shape();
          return ts.hasRank() && ts.dim(0).isFixed() ? unknownOfRank((int) ts.dim(0).value()) : null;
        }
        long[] target = t.toLongs();
        List<Dim> d = new ArrayList<>();
        boolean allowZero = n.intAttr("allowzero", 0) == 1;
        int minus = -1;
        for (int i = 0; i < target.length; i++) {
          if (target[i] == 0 && !allowZero) d.add(s0.hasRank() ? s0.dim(i) : Dim.UNKNOWN);
          else if (target[i] == -1) {
            minus = i;
            d.add(Dim.UNKNOWN);
          } else d.add(Dim.of(target[i]));
        }
        if (minus >= 0 && s0.isFullyKnown()) {
          long known = 1;
          for (int i = 0; i < d.size(); i++) if (i != minus) known = d.get(i).isFixed() ? known * d.get(i).value() : -1;
          if (known > 0) d.set(minus, Dim.of(s0.elementCount() / known));
        } else if (minus >= 0 && s0.hasRank()) {
          d.set(minus, inferMinusOne(s0, d, minus));
        }
        return Shape.of(d);
      }
      case "Unsqueeze": {
        long[] axes = axesOf(n, opset, 13);
        if (axes == null || !s0.hasRank()) return null;
        int r = s0.rank() + axes.length;
        boolean[] ins = new boolean[r];
        for (long a : axes) ins[Shapes.normAxis(a, r)] = true;
        List<Dim> d = new ArrayList<>();
        int k = 0;
        for (int i = 0; i < r; i++) d.add(ins[i] ? Dim.of(1) : s0.dim(k++));
        return Shape.of(d);
      }
      case "Squeeze": {
        if (!s0.hasRank()) return null;
        long[] axes = axesOf(n, opset, 13);
        if (axes == null) {
          List<Dim> d = new ArrayList<>();
          for (Dim x : s0.dims()) {
            if (!x.isFixed()) return null;
            if (x.value() != 1) d.add(x);
          }
          return Shape.of(d);
        }
        boolean[] drop = new boolean[s0.rank()];
        for (long a : axes) drop[Shapes.normAxis(a, s0.rank())] = true;
        List<Dim> d = new ArrayList<>();
        for (int i = 0; i < drop.length; i++) if (!drop[i]) d.add(s0.dim(i));
        return Shape.of(d);
      }
      case "Concat": {
        if (!s0.hasRank()) return null;
        int axis = Shapes.normAxis(n.intAttr("axis", 0), s0.rank());
        long total = 0;
        List<Dim> d = new ArrayList<>(s0.dims());
        for (Value v : in) {
          if (!v.shape().hasRank()) return unknownOfRank(s0.rank());
          Dim a = v.shape().dim(axis);
          total = total >= 0 && a.isFixed() ? total + a.value() : -1;
          for (int i = 0; i < d.size(); i++) if (i != axis && !d.get(i).isFixed()) d.set(i, Shapes.broadcastDim(d.get(i), v.shape().dim(i)));
        }
        d.set(axis, Dim.of(total));
        return Shape.of(d);
      }
      case "Gather": {
        Shape si = in.get(1).shape();
        if (!s0.hasRank() || !si.hasRank()) return null;
        int axis = Shapes.normAxis(n.intAttr("axis", 0), s0.rank());
        List<Dim> d = new ArrayList<>(s0.dims().subList(0, axis));
        d.addAll(si.dims());
        d.addAll(s0.dims().subList(axis + 1, s0.rank()));
        return Shape.of(d);
      }
      case "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceLogSumExp",
          "ReduceSumSquare", "ReduceL1":
        return reduce(n, s0, opset);
      case "ArgMax", "ArgMin": {
        if (!s0.hasRank()) return null;
        int axis = Shapes.normAxis(n.intAttr("axis", 0), s0.rank());
        List<Dim> d = new ArrayList<>(s0.dims());
        if (n.intAttr("keepdims", 1) == 1) d.set(axis, Dim.of(1));
        else d.remove(axis);
        return Shape.of(d);
      }
      case "Expand": {
        Tensor t = in.get(1).constant();
        if (t == null) {
          Shape ts = in.get(1).shape();
          if (!s0.hasRank() || !ts.hasRank() || !ts.dim(0).isFixed()) return null;
          return unknownOfRank((int) Math.max(s0.rank(), ts.dim(0).value()));
        }
        return Shapes.broadcast(s0, Shape.of(t.toLongs()));
      }
      case "ConstantOfShape": {
        Tensor t = in.get(0).constant();
        if (t != null) return Shape.of(t.toLongs());
        Shape si = in.get(0).shape();
        return si.hasRank() && si.dim(0).isFixed() ? unknownOfRank((int) si.dim(0).value()) : null;
      }
      case "Slice": {
        if (!s0.hasRank()) return null;
        List<Dim> d = new ArrayList<>(s0.dims());
        Tensor st = in.get(1).constant(), en = in.get(2).constant();
        Tensor ax = in.size() > 3 && in.get(3) != null ? in.get(3).constant() : null;
        Tensor sp = in.size() > 4 && in.get(4) != null ? in.get(4).constant() : null;
        boolean axesKnown = in.size() <= 3 || in.get(3) == null || ax != null;
        if (!axesKnown) return unknownOfRank(s0.rank());
        int k = st != null ? (int) st.size() : en != null ? (int) en.size() : -1;
        if (k < 0) return unknownOfRank(s0.rank());
        for (int j = 0; j < k; j++) {
          int a = ax == null ? j : Shapes.normAxis(ax.getLong(j), s0.rank());
          Dim dim = s0.dim(a);
          long step = sp == null ? 1 : sp.getLong(j);
          if (st == null || en == null || !dim.isFixed()) {
            long s = st == null ? 1 : st.getLong(j), e = en == null ? 0 : en.getLong(j);
            boolean whole = st != null && en != null && step == 1 && s == 0 && e >= Integer.MAX_VALUE;
            d.set(a, whole ? dim : Dim.UNKNOWN);
            continue;
          }
          long len = DataMovement.slice(NdArray.longs(DType.INT64, new long[] {dim.value()}, new long[(int) dim.value()]),
              new long[] {st.getLong(j)}, new long[] {en.getLong(j)}, null, new long[] {step}).shape[0];
          d.set(a, Dim.of(len));
        }
        return Shape.of(d);
      }
      case "Tile": {
        Tensor t = in.get(1).constant();
        if (t == null || !s0.hasRank()) return s0.hasRank() ? unknownOfRank(s0.rank()) : null;
        long[] reps = t.toLongs();
        List<Dim> d = new ArrayList<>();
        for (int i = 0; i < s0.rank(); i++) {
          Dim x = s0.dim(i);
          d.add(reps[i] == 1 ? x : x.isFixed() ? Dim.of(x.value() * reps[i]) : Dim.UNKNOWN);
        }
        return Shape.of(d);
      }
      case "Range":
        return Shape.of(Dim.UNKNOWN);
      case "OneHot": {
        Tensor depth = in.get(1).constant();
        Shape si = s0;
        if (!si.hasRank()) return null;
        List<Dim> d = new ArrayList<>(si.dims());
        int axis = (int) n.intAttr("axis", -1);
        int pos = axis < 0 ? d.size() + 1 + axis : axis;
        d.add(pos, depth == null ? Dim.UNKNOWN : Dim.of(depth.getLong(0)));
        return Shape.of(d);
      }
      case "Conv", "MaxPool", "AveragePool":
        return convShape(n, s0, in.size() > 1 && in.get(1) != null ? in.get(1).shape() : null);
      case "Pad": {
        if (!s0.hasRank()) return null;
        Tensor pads = in.size() > 1 && in.get(1) != null ? in.get(1).constant() : null;
        boolean axesGiven = in.size() > 3 && in.get(3) != null;
        if (pads == null || axesGiven || pads.size() != 2L * s0.rank()) return unknownOfRank(s0.rank());
        List<Dim> d = new ArrayList<>();
        for (int i = 0; i < s0.rank(); i++) {
          long add = pads.getLong(i) + pads.getLong(i + s0.rank());
          Dim x = s0.dim(i);
          d.add(add == 0 ? x : x.isFixed() ? Dim.of(x.value() + add) : Dim.UNKNOWN);
        }
        return Shape.of(d);
      }
      case "ConvTranspose":
        return s0.hasRank() ? unknownOfRank(s0.rank()) : null;
      case "Flatten": {
        if (!s0.hasRank()) return null;
        int axis = Shapes.normAxis(n.intAttr("axis", 1), s0.rank() + 1);
        long a = 1, b = 1;
        for (int i = 0; i < s0.rank(); i++) {
          Dim x = s0.dim(i);
          if (i < axis) a = a >= 0 && x.isFixed() ? a * x.value() : -1;
          else b = b >= 0 && x.isFixed() ? b * x.value() : -1;
        }
        return Shape.of(a, b);
      }
      case "GatherND": {
        // indices.shape[:-1] + data.shape[batch_dims + k:], k = indices.shape[-1]
        Shape si = in.get(1).shape();
        if (!s0.hasRank() || !si.hasRank() || si.rank() == 0 || !si.dim(-1).isFixed()) return null;
        int from = (int) (n.intAttr("batch_dims", 0) + si.dim(-1).value());
        List<Dim> d = new ArrayList<>(si.dims().subList(0, si.rank() - 1));
        d.addAll(s0.dims().subList(from, s0.rank()));
        return Shape.of(d);
      }
      case "NonZero":
        return s0.hasRank() ? Shape.of(Dim.of(s0.rank()), Dim.UNKNOWN) : null;
      default:
        return null;
    }
  }

  /** Conv/pool output: batch kept, channels from the weight (Conv) or the input, spatial sizes from the pads. */
  private static Shape convShape(Node n, Shape x, Shape w) {
    if (!x.hasRank()) return null;
    int sp = x.rank() - 2;
    boolean conv = n.op().equals("Conv");
    boolean wKnown = w != null && w.hasRank() && w.rank() == x.rank();
    long[] k = n.intsAttr("kernel_shape"), s = n.intsAttr("strides"), d = n.intsAttr("dilations"), p = n.intsAttr("pads");
    String auto = n.stringAttr("auto_pad", "NOTSET");
    List<Dim> out = new ArrayList<>();
    out.add(x.dim(0));
    out.add(conv ? (wKnown ? w.dim(0) : Dim.UNKNOWN) : x.dim(1));
    for (int i = 0; i < sp; i++) {
      Dim in = x.dim(2 + i);
      long ki = k != null ? k[i] : wKnown && w.dim(2 + i).isFixed() ? w.dim(2 + i).value() : -1;
      long si = s == null ? 1 : s[i], di = d == null ? 1 : d[i];
      if (!in.isFixed() || ki < 0 || n.intAttr("ceil_mode", 0) == 1) {
        out.add(Dim.UNKNOWN);
      } else if (auto.startsWith("SAME")) {
        out.add(Dim.of((in.value() + si - 1) / si));
      } else {
        long pad = auto.equals("VALID") || p == null ? 0 : p[i] + p[i + sp];
        long span = in.value() + pad - (ki - 1) * di - 1;
        out.add(span < 0 ? Dim.UNKNOWN : Dim.of(span / si + 1));
      }
    }
    return Shape.of(out);
  }

  private static Dim inferMinusOne(Shape in, List<Dim> out, int minus) {
    // [B, T, F] reshaped to [-1, F]: the -1 is B*T, unknown; [B*T, F] back to [B, -1, F] etc.: unknown too.
    return Dim.UNKNOWN;
  }

  private static Shape unknownOfRank(int r) {
    List<Dim> d = new ArrayList<>();
    for (int i = 0; i < r; i++) d.add(Dim.UNKNOWN);
    return Shape.of(d);
  }

  static Shape matmul(Shape a, Shape b) {
    if (!a.hasRank() || !b.hasRank()) return null;
    if (a.rank() < 2 || b.rank() < 2) return null;
    Shape ba = Shape.of(a.dims().subList(0, a.rank() - 2));
    Shape bb = Shape.of(b.dims().subList(0, b.rank() - 2));
    List<Dim> d = new ArrayList<>(Shapes.broadcast(ba, bb).dims());
    d.add(a.dim(a.rank() - 2));
    d.add(b.dim(b.rank() - 1));
    return Shape.of(d);
  }

  private static long[] axesOf(Node n, int opset, int inputSince) {
    if (opset >= inputSince) {
      Value a = n.input(1);
      if (a == null) return null;
      Tensor t = a.constant();
      if (t == null) throw new UnknownShape("dynamic axes");
      return t.toLongs();
    }
    return n.intsAttr("axes");
  }

  private static Shape reduce(Node n, Shape s0, int opset) {
    if (!s0.hasRank()) return null;
    long[] axes = axesOf(n, opset, n.op().equals("ReduceSum") ? 13 : 18);
    boolean keep = n.intAttr("keepdims", 1) == 1;
    boolean noop = n.intAttr("noop_with_empty_axes", 0) == 1;
    if (axes == null || axes.length == 0) {
      if (noop) return s0;
      List<Dim> d = new ArrayList<>();
      if (keep) for (int i = 0; i < s0.rank(); i++) d.add(Dim.of(1));
      return Shape.of(d);
    }
    boolean[] red = new boolean[s0.rank()];
    for (long a : axes) red[Shapes.normAxis(a, s0.rank())] = true;
    List<Dim> d = new ArrayList<>();
    for (int i = 0; i < red.length; i++) {
      if (!red[i]) d.add(s0.dim(i));
      else if (keep) d.add(Dim.of(1));
    }
    return Shape.of(d);
  }

  private static void splitShapes(Node n, int opset) {
    Shape s0 = n.input(0).shape();
    if (!s0.hasRank()) return;
    int axis = Shapes.normAxis(n.intAttr("axis", n.op().equals("TopK") ? -1 : 0), s0.rank());
    if (n.op().equals("TopK")) {
      Tensor k = n.input(1).constant();
      Shape s = s0.withDim(axis, k == null ? Dim.UNKNOWN : Dim.of(k.getLong(0)));
      for (Value o : n.outputs()) o.setShape(s);
      return;
    }
    Tensor sizes = n.input(1) != null ? n.input(1).constant() : null;
    for (int i = 0; i < n.outputs().size(); i++) {
      Dim d = Dim.UNKNOWN;
      if (sizes != null) d = Dim.of(sizes.getLong(i));
      else if (n.input(1) == null && s0.dim(axis).isFixed()) d = Dim.of(s0.dim(axis).value() / n.outputs().size());
      n.output(i).setShape(s0.withDim(axis, d));
    }
  }
}
