package returnn.onnx.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * Evaluates ONNX ops whose inputs are all constants. Used while emitting, so shape arithmetic on static shapes
 * (RETURNN's Shape/StridedSlice/Pack chains around Reshape) becomes constants that handlers can read.
 */
public final class ConstantFolder {
  /** Folding stops above this many output elements (weights are folded, nothing huge is materialized twice). */
  static final long MAX_ELEMENTS = 1L << 24;

  private static final Set<String> UNARY = Set.of("Identity", "Neg", "Abs", "Floor", "Ceil", "Sqrt", "Reciprocal",
      "Exp", "Log", "Tanh", "Sigmoid", "Relu", "Not", "Sign", "Round");
  private static final Set<String> BINARY = Set.of("Add", "Sub", "Mul", "Div", "Mod", "Pow", "Max", "Min", "Equal",
      "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor");
  private static final Set<String> OTHER = Set.of("Cast", "Concat", "Unsqueeze", "Squeeze", "Reshape", "Gather",
      "Slice", "Size", "Range", "ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin", "Expand", "Transpose",
      "ConstantOfShape", "Where", "Tile", "Flatten");

  private ConstantFolder() {}

  public static boolean canFold(String domain, String op) {
    return domain.isEmpty() && (UNARY.contains(op) || BINARY.contains(op) || OTHER.contains(op));
  }

  /** Folds the op; returns null when it cannot (unsupported case, too large, or a type it does not evaluate). */
  public static List<Tensor> fold(String op, List<Tensor> in, Map<String, Attr> attrs, int opset) {
    for (Tensor t : in) if (t != null && (t.dtype() == DType.STRING || t.dtype() == DType.FLOAT16 || t.dtype() == DType.BFLOAT16)) return null;
    try {
      NdArray r = eval(op, in, attrs, opset);
      if (r == null || r.size() > MAX_ELEMENTS) return null;
      return List.of(r.toTensor());
    } catch (IllegalArgumentException e) {
      return null; // invalid for these inputs (or too large): leave it to the runtime, which reports it with the real inputs
    } catch (RuntimeException e) {
      returnn.onnx.InternalErrors.record("constant folding of " + op, e); // a bug in the folder
      return null;
    }
  }

  /** Whether every value converts to {@code to} as ONNX defines it: finite, and in range after truncation. */
  static boolean castDefined(NdArray x, DType to) {
    double lo, hi; // inclusive bounds of the truncated value
    switch (to) {
      case INT8 -> { lo = Byte.MIN_VALUE; hi = Byte.MAX_VALUE; }
      case UINT8 -> { lo = 0; hi = 255; }
      case INT16 -> { lo = Short.MIN_VALUE; hi = Short.MAX_VALUE; }
      case UINT16 -> { lo = 0; hi = 65535; }
      case INT32 -> { lo = Integer.MIN_VALUE; hi = Integer.MAX_VALUE; }
      case UINT32 -> { lo = 0; hi = 4294967295.0; }
      case UINT64 -> { lo = 0; hi = Math.nextDown(18446744073709551616.0); }
      default -> { lo = -9223372036854775808.0; hi = Math.nextDown(9223372036854775808.0); }
    }
    for (int i = 0; i < x.size(); i++) {
      double v = x.getD(i);
      if (!Double.isFinite(v)) return false;
      double t = v < 0 ? Math.ceil(v) : Math.floor(v);
      if (t < lo || t > hi) return false;
    }
    return true;
  }

  private static NdArray eval(String op, List<Tensor> in, Map<String, Attr> attrs, int opset) {
    List<NdArray> a = new ArrayList<>();
    for (Tensor t : in) a.add(t == null ? null : NdArray.of(t));
    if (UNARY.contains(op)) return Elementwise.unary(op, a.get(0));
    if (BINARY.contains(op)) {
      if (op.equals("Mod") && intAttr(attrs, "fmod", 0) == 0 && a.get(0).floating()) return null;
      return Elementwise.binary(op, a.get(0), a.get(1), intAttr(attrs, "fmod", 0) == 1);
    }
    return switch (op) {
      case "Cast" -> {
        DType to = DType.fromOnnx((int) intAttr(attrs, "to", 1));
        // Float to integer of NaN, an infinity or a value outside the target's range is undefined in ONNX (ONNX
        // Runtime gives INT_MIN for NaN on x86, Java gives 0): not folded, so the model computes what the runtime does.
        yield a.get(0).floating() && !to.isFloating() && to != DType.BOOL && !castDefined(a.get(0), to)
            ? null : Elementwise.cast(a.get(0), to);
      }
      case "Where" -> Elementwise.where(a.get(0), a.get(1), a.get(2));
      case "Concat" -> DataMovement.concat(a, intAttr(attrs, "axis", 0));
      case "Unsqueeze" -> DataMovement.unsqueeze(a.get(0), a.get(1).l);
      case "Squeeze" -> DataMovement.squeeze(a.get(0), a.size() > 1 && a.get(1) != null ? a.get(1).l : null);
      case "Reshape" -> DataMovement.reshape(a.get(0), a.get(1).l, intAttr(attrs, "allowzero", 0) == 1);
      case "Flatten" -> {
        long[] s = a.get(0).shape;
        int ax = Shapes.normAxis(intAttr(attrs, "axis", 1), s.length + 1);
        long outer = 1;
        for (int i = 0; i < ax; i++) outer *= s[i];
        yield DataMovement.reshape(a.get(0), new long[] {outer, -1}, false);
      }
      case "Gather" -> DataMovement.gather(a.get(0), a.get(1), intAttr(attrs, "axis", 0));
      case "Slice" -> DataMovement.slice(a.get(0), a.get(1).l, a.get(2).l, a.size() > 3 && a.get(3) != null ? a.get(3).l : null,
          a.size() > 4 && a.get(4) != null ? a.get(4).l : null);
      case "Size" -> NdArray.longs(DType.INT64, new long[0], new long[] {a.get(0).size()});
      case "Range" -> Elementwise.range(a.get(0), a.get(1), a.get(2));
      case "ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin" -> {
        long[] axes = opset >= 18 || op.equals("ReduceSum")
            ? (a.size() > 1 && a.get(1) != null ? a.get(1).l : null)
            : (attrs.get("axes") instanceof Attr.Ints i ? i.values() : null);
        boolean noop = intAttr(attrs, "noop_with_empty_axes", 0) == 1;
        if ((axes == null || axes.length == 0) && noop) yield a.get(0);
        yield DataMovement.reduce(op, a.get(0), axes, intAttr(attrs, "keepdims", 1) == 1);
      }
      case "Expand" -> DataMovement.expand(a.get(0), a.get(1).l);
      case "Tile" -> DataMovement.tile(a.get(0), a.get(1).l);
      case "Transpose" -> DataMovement.transpose(a.get(0), attrs.get("perm") instanceof Attr.Ints p ? p.values() : null);
      case "ConstantOfShape" -> {
        Tensor v = attrs.get("value") instanceof Attr.TensorVal tv ? tv.value() : Tensor.scalarFloat(0);
        NdArray val = NdArray.of(v);
        long[] shape = a.get(0).l;
        long n = Tensor.count(shape);
        if (n > MAX_ELEMENTS) yield null;
        yield DataMovement.expand(NdArray.of(v.reshape(new long[0])), shape).withDtype(val.dtype);
      }
      default -> null;
    };
  }

  static long intAttr(Map<String, Attr> attrs, String key, long dflt) {
    Attr a = attrs.get(key);
    return a instanceof Attr.Int i ? i.value() : dflt;
  }
}
