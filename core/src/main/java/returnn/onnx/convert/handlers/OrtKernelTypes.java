package returnn.onnx.convert.handlers;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/**
 * Element types ONNX Runtime's CPU provider has kernels for, per ONNX op (from its docs/OperatorKernels.md), and
 * helpers that cast around an op when the TF dtype at hand has no kernel. A model with a node whose type has no
 * kernel fails at session creation, so these casts are what makes e.g. int16 or float16 graphs loadable.
 */
final class OrtKernelTypes {
  private OrtKernelTypes() {}

  static final Set<DType> FLOATS = EnumSet.of(DType.FLOAT, DType.DOUBLE);
  /** Erf, Elu, Selu, LeakyRelu, Softplus, Softsign, Sin, Cos: ORT registers float32 only. */
  static final Set<DType> FLOAT32 = EnumSet.of(DType.FLOAT);
  /** Add/Sub/Mul/Div at opset 13 (14 adds 8/16-bit ints; casting to int32 and back wraps the same). Max, Min. */
  static final Set<DType> ARITH = EnumSet.of(DType.FLOAT, DType.DOUBLE, DType.INT32, DType.INT64, DType.UINT32,
      DType.UINT64);
  static final Set<DType> NEG = EnumSet.of(DType.FLOAT, DType.DOUBLE, DType.INT8, DType.INT16, DType.INT32,
      DType.INT64);
  /** Abs, Sign, Mod, Less/Greater(OrEqual): every int and float32/64. */
  static final Set<DType> NUMERIC = EnumSet.of(DType.FLOAT, DType.DOUBLE, DType.INT8, DType.INT16, DType.INT32,
      DType.INT64, DType.UINT8, DType.UINT16, DType.UINT32, DType.UINT64);
  static final Set<DType> EQUAL = EnumSet.of(DType.BOOL, DType.FLOAT, DType.DOUBLE, DType.INT8, DType.INT16,
      DType.INT32, DType.INT64, DType.UINT8, DType.UINT16, DType.UINT32, DType.UINT64);
  static final Set<DType> POW = EnumSet.of(DType.FLOAT, DType.DOUBLE, DType.INT32, DType.INT64);
  static final Set<DType> CLIP = EnumSet.of(DType.FLOAT, DType.DOUBLE, DType.INT8, DType.INT32, DType.INT64,
      DType.UINT8, DType.UINT32, DType.UINT64);
  /** Where (9 and 16): no bool kernel in ONNX Runtime 1.23, so bool branches go through int32. */
  static final Set<DType> WHERE = EnumSet.of(DType.FLOAT, DType.DOUBLE, DType.INT32, DType.INT64, DType.UINT8,
      DType.STRING);

  /** The type to compute in when {@code t} has no kernel: float32 for floats, int64 for ints. */
  static DType wider(DType t, Set<DType> ok) {
    if (t.isFloating()) return ok.contains(DType.FLOAT) ? DType.FLOAT : DType.DOUBLE;
    if (t == DType.BOOL && ok.contains(DType.INT32)) return DType.INT32;
    if (ok.contains(DType.INT32) && t.size <= 4 && t != DType.UINT32) return DType.INT32;
    return DType.INT64;
  }

  /** Emits {@code op} on {@code inputs}, casting all of them to a supported type and the result back if needed. */
  static Value op(OnnxBuilder o, String op, Set<DType> ok, List<Value> inputs, Map<String, Attr> attrs) {
    DType t = inputs.get(0).dtype();
    if (ok.contains(t)) return o.op(op, inputs, attrs);
    DType w = wider(t, ok);
    List<Value> cast = new ArrayList<>();
    for (Value v : inputs) cast.add(v == null ? null : o.cast(v, w));
    Value r = o.op(op, cast, attrs);
    return r.dtype() == w ? o.cast(r, t) : r;
  }

  static Value op(OnnxBuilder o, String op, Set<DType> ok, Value... inputs) {
    return op(o, op, ok, List.of(inputs), Map.of());
  }

  /** Applies {@code f} in a supported type (for multi-op expansions), casting in and out as {@link #op} does. */
  static Value via(OnnxBuilder o, Set<DType> ok, Value x, Function<Value, Value> f) {
    DType t = x.dtype();
    if (ok.contains(t)) return f.apply(x);
    return o.cast(f.apply(o.cast(x, wider(t, ok))), t);
  }
}
