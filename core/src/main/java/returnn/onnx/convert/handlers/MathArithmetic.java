package returnn.onnx.convert.handlers;

import static returnn.onnx.convert.handlers.OrtKernelTypes.ARITH;
import static returnn.onnx.convert.handlers.OrtKernelTypes.FLOATS;
import static returnn.onnx.convert.handlers.OrtKernelTypes.NUMERIC;
import static returnn.onnx.convert.handlers.OrtKernelTypes.POW;

import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.convert.HandlerRegistry;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/** Binary arithmetic: TF broadcasts like numpy, as ONNX does, so most ops map one to one. */
final class MathArithmetic {
  private MathArithmetic() {}

  static void register(HandlerRegistry r) {
    r.register("Add", ctx -> binary(ctx, "Add"));
    r.register("AddV2", ctx -> binary(ctx, "Add"));
    r.register("Sub", ctx -> binary(ctx, "Sub"));
    r.register("Mul", ctx -> binary(ctx, "Mul"));
    // RealDiv is only registered for float types in TF; Div and TruncateDiv truncate toward zero on integers
    // (C++ `/`), which is what ONNX Div does on integers.
    r.register("RealDiv", ctx -> binary(ctx, "Div"));
    r.register("Div", ctx -> binary(ctx, "Div"));
    r.register("TruncateDiv", ctx -> binary(ctx, "Div"));
    r.register("Maximum", ctx -> binary(ctx, "Max"));
    r.register("Minimum", ctx -> binary(ctx, "Min"));
    r.register("AddN", MathArithmetic::addN);
    r.register("FloorDiv", MathArithmetic::floorDiv);
    r.register("FloorMod", MathArithmetic::floorMod);
    // TF TruncateMod and legacy Mod: C++ `%` on integers and std::fmod on floats: ONNX Mod with fmod=1.
    r.register("TruncateMod", MathArithmetic::truncateMod);
    r.register("Mod", MathArithmetic::truncateMod);
    r.register("Pow", ctx -> ctx.setOutput(0, OrtKernelTypes.op(ctx.onnx(), "Pow", POW, ctx.input(0), ctx.input(1))));
    r.register("SquaredDifference", ctx -> {
      Value d = arith(ctx.onnx(), "Sub", ctx.input(0), ctx.input(1));
      ctx.setOutput(0, arith(ctx.onnx(), "Mul", d, d));
    });
    r.register("DivNoNan", MathArithmetic::divNoNan);
  }

  static Value arith(OnnxBuilder o, String op, Value a, Value b) {
    return OrtKernelTypes.op(o, op, ARITH, a, b);
  }

  private static void binary(ConversionContext ctx, String onnxOp) {
    ctx.setOutput(0, arith(ctx.onnx(), onnxOp, ctx.input(0), ctx.input(1)));
  }

  /** AddN: same-shape inputs. ONNX Sum has float kernels only in ONNX Runtime, so integers become an Add chain. */
  private static void addN(ConversionContext ctx) {
    int n = ctx.inputCount();
    Value first = ctx.input(0);
    if (n == 1) {
      ctx.setOutput(0, first);
      return;
    }
    if (FLOATS.contains(first.dtype())) {
      Value[] in = new Value[n];
      for (int i = 0; i < n; i++) in[i] = ctx.input(i);
      ctx.setOutput(0, ctx.onnx().op("Sum", in));
      return;
    }
    Value acc = first;
    for (int i = 1; i < n; i++) acc = arith(ctx.onnx(), "Add", acc, ctx.input(i));
    ctx.setOutput(0, acc);
  }

  /**
   * TF FloorDiv rounds toward −∞ (RETURNN's ceil division {@code -(-x // k)} relies on it); ONNX Div on integers
   * truncates toward zero. The two differ by one exactly when the truncated remainder (Mod fmod=1, dividend's sign)
   * and the floored remainder (Mod fmod=0, divisor's sign) differ, and then they differ by exactly y: so
   * floor(x/y) = trunc(x/y) − (r_floor − r_trunc)/y, with no intermediate that can overflow.
   * Floats: TF computes floor(x / y).
   */
  private static void floorDiv(ConversionContext ctx) {
    OnnxBuilder o = ctx.onnx();
    Value x = ctx.input(0), y = ctx.input(1);
    if (x.dtype().isFloating()) {
      ctx.setOutput(0, OrtKernelTypes.via(o, FLOATS, arith(o, "Div", x, y), q -> o.op("Floor", q)));
      return;
    }
    if (!x.dtype().isInteger()) throw ctx.unsupported("dtype", x.dtype());
    Value q = arith(o, "Div", x, y);
    Value rFloor = mod(o, x, y, false);
    Value rTrunc = mod(o, x, y, true);
    Value fix = arith(o, "Div", arith(o, "Sub", rFloor, rTrunc), y);
    ctx.setOutput(0, arith(o, "Sub", q, fix));
  }

  /**
   * TF FloorMod: the result takes the divisor's sign. On integers that is ONNX Mod with fmod=0. On floats ONNX
   * requires fmod=1 (std::fmod, dividend's sign), so TF's own correction follows: add y to a nonzero remainder
   * whose sign differs from y's (tensorflow/core/kernels/cwise_ops.h, google_floor_fmod).
   */
  private static void floorMod(ConversionContext ctx) {
    OnnxBuilder o = ctx.onnx();
    Value x = ctx.input(0), y = ctx.input(1);
    if (!x.dtype().isFloating()) {
      ctx.setOutput(0, mod(o, x, y, false));
      return;
    }
    Value r = mod(o, x, y, true);
    DType t = r.dtype();
    Value zero = o.scalar(t, 0);
    Value rNeg = OrtKernelTypes.op(o, "Less", NUMERIC, r, zero);
    Value yNeg = OrtKernelTypes.op(o, "Less", NUMERIC, y, zero);
    Value signsDiffer = o.op("Xor", rNeg, yNeg);
    Value nonZero = o.op("Not", OrtKernelTypes.op(o, "Equal", OrtKernelTypes.EQUAL, r, zero));
    Value fix = o.op("And", signsDiffer, nonZero);
    ctx.setOutput(0, MathLogic.where(o, fix, arith(o, "Add", r, y), r));
  }

  private static void truncateMod(ConversionContext ctx) {
    ctx.setOutput(0, mod(ctx.onnx(), ctx.input(0), ctx.input(1), true));
  }

  static Value mod(OnnxBuilder o, Value x, Value y, boolean fmod) {
    return OrtKernelTypes.op(o, "Mod", NUMERIC, List.of(x, y), Attrs.of("fmod", fmod ? 1 : 0));
  }

  /** DivNoNan: 0 where y == 0, even for x = 0 or inf; Where, so the unselected x/0 never leaks. */
  private static void divNoNan(ConversionContext ctx) {
    OnnxBuilder o = ctx.onnx();
    Value x = ctx.input(0), y = ctx.input(1);
    Value zero = o.scalar(y.dtype(), 0);
    Value yZero = OrtKernelTypes.op(o, "Equal", OrtKernelTypes.EQUAL, y, zero);
    ctx.setOutput(0, MathLogic.where(o, yZero, zero, arith(o, "Div", x, y)));
  }
}
