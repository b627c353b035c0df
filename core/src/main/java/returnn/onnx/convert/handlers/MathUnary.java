package returnn.onnx.convert.handlers;

import static returnn.onnx.convert.handlers.OrtKernelTypes.ARITH;
import static returnn.onnx.convert.handlers.OrtKernelTypes.CLIP;
import static returnn.onnx.convert.handlers.OrtKernelTypes.FLOAT32;
import static returnn.onnx.convert.handlers.OrtKernelTypes.FLOATS;
import static returnn.onnx.convert.handlers.OrtKernelTypes.NEG;
import static returnn.onnx.convert.handlers.OrtKernelTypes.NUMERIC;

import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.convert.HandlerRegistry;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/** Unary math and activations. */
final class MathUnary {
  private MathUnary() {}

  /** TF's SELU constants (tensorflow/core/kernels/relu_op_functor.h); ONNX's defaults are rounded differently. */
  private static final float SELU_SCALE = 1.0507009873554804934193349852946f;
  private static final float SELU_ALPHA = 1.6732632423543772848170429916717f;

  static void register(HandlerRegistry r) {
    unary(r, "Neg", "Neg", NEG);
    unary(r, "Abs", "Abs", NUMERIC);
    unary(r, "Sign", "Sign", NUMERIC);
    unary(r, "Sqrt", "Sqrt", FLOATS);
    unary(r, "Exp", "Exp", FLOATS);
    unary(r, "Log", "Log", FLOATS);
    unary(r, "Tanh", "Tanh", FLOATS);
    unary(r, "Sigmoid", "Sigmoid", FLOATS);
    // Erf and most activations have float32-only kernels in ONNX Runtime; double goes through float32.
    r.register("Erf", MathUnary::erf);
    unary(r, "Elu", "Elu", FLOAT32);
    unary(r, "Softplus", "Softplus", FLOAT32);
    unary(r, "Softsign", "Softsign", FLOAT32);
    unary(r, "Sin", "Sin", FLOAT32);
    unary(r, "Cos", "Cos", FLOAT32);
    // Floor/Ceil/Round are float-only in TF except Round, documented as the identity on integers (TF 2.18's CPU
    // kernel returns zeros there, a bug not reproduced). Both TF (scalar_round_half_to_even_op) and ONNX Round
    // round halves to even.
    for (String op : List.of("Floor", "Ceil", "Round")) {
      r.register(op, ctx -> ctx.setOutput(0, ctx.input(0).dtype().isInteger() ? ctx.input(0)
          : OrtKernelTypes.op(ctx.onnx(), op, FLOATS, ctx.input(0))));
    }
    r.register("Selu", ctx -> ctx.setOutput(0, OrtKernelTypes.op(ctx.onnx(), "Selu", FLOAT32, List.of(ctx.input(0)),
        Attrs.of("alpha", SELU_ALPHA, "gamma", SELU_SCALE))));
    // TF LeakyRelu's alpha defaults to 0.2; ONNX's to 0.01.
    r.register("LeakyRelu", ctx -> ctx.setOutput(0, OrtKernelTypes.op(ctx.onnx(), "LeakyRelu", FLOAT32,
        List.of(ctx.input(0)), Attrs.of("alpha", ctx.attrFloat("alpha", 0.2f)))));
    r.register("Relu", MathUnary::relu);
    r.register("Relu6", ctx -> ctx.setOutput(0, clip(ctx.onnx(), ctx.input(0), 0, 6)));
    r.register("Square", ctx -> ctx.setOutput(0, MathArithmetic.arith(ctx.onnx(), "Mul", ctx.input(0),
        ctx.input(0))));
    r.register("Reciprocal", MathUnary::reciprocal);
    r.register("Inv", MathUnary::reciprocal);
    r.register("Rsqrt", ctx -> ctx.setOutput(0, OrtKernelTypes.via(ctx.onnx(), FLOATS, ctx.input(0),
        x -> ctx.onnx().op("Reciprocal", ctx.onnx().op("Sqrt", x)))));
    // No ONNX Log1p: log(1 + x) loses relative precision for |x| below float eps, absolute error stays ~1e-8.
    r.register("Log1p", ctx -> ctx.setOutput(0, OrtKernelTypes.via(ctx.onnx(), FLOATS, ctx.input(0),
        x -> ctx.onnx().op("Log", ctx.onnx().op("Add", x, ctx.onnx().scalar(x.dtype(), 1))))));
    r.register("Expm1", ctx -> ctx.setOutput(0, OrtKernelTypes.via(ctx.onnx(), FLOATS, ctx.input(0),
        x -> ctx.onnx().op("Sub", ctx.onnx().op("Exp", x), ctx.onnx().scalar(x.dtype(), 1)))));
    r.register("ClipByValue", MathUnary::clipByValue);
  }

  private static void unary(HandlerRegistry r, String tfOp, String onnxOp, Set<DType> ok) {
    r.register(tfOp, ctx -> ctx.setOutput(0, OrtKernelTypes.op(ctx.onnx(), onnxOp, ok, ctx.input(0))));
  }

  /**
   * ONNX Runtime's Erf kernel (MLAS) returns 1 for NaN where TF returns NaN, so NaN is passed through with a Where.
   * Gelu written as 0.5·x·(1 + erf(x/√2)) would mask this, a standalone erf does not.
   */
  private static void erf(ConversionContext ctx) {
    OnnxBuilder o = ctx.onnx();
    ctx.setOutput(0, OrtKernelTypes.via(o, FLOAT32, ctx.input(0),
        x -> o.op("Where", o.op("IsNaN", x), x, o.op("Erf", x))));
  }

  /** ONNX Runtime's Relu kernels are float-only before opset 14; integers become Max(x, 0) at every opset. */
  private static void relu(ConversionContext ctx) {
    OnnxBuilder o = ctx.onnx();
    Value x = ctx.input(0);
    if (x.dtype().isFloating()) ctx.setOutput(0, OrtKernelTypes.op(o, "Relu", FLOATS, x));
    else ctx.setOutput(0, OrtKernelTypes.op(o, "Max", ARITH, x, o.scalar(x.dtype(), 0)));
  }

  /** TF Reciprocal/Inv on integers is integer division 1 / x; ONNX Reciprocal is float-only. */
  private static void reciprocal(ConversionContext ctx) {
    OnnxBuilder o = ctx.onnx();
    Value x = ctx.input(0);
    if (x.dtype().isFloating()) ctx.setOutput(0, OrtKernelTypes.op(o, "Reciprocal", FLOATS, x));
    else ctx.setOutput(0, MathArithmetic.arith(o, "Div", o.scalar(x.dtype(), 1), x));
  }

  static Value clip(OnnxBuilder o, Value x, double lo, double hi) {
    return OrtKernelTypes.op(o, "Clip", CLIP, List.of(x, o.scalar(x.dtype(), lo), o.scalar(x.dtype(), hi)), Map.of());
  }

  /**
   * ClipByValue bounds are scalars or tensors of t's shape. ONNX Clip takes scalar bounds only; otherwise TF's
   * own formulation, min(t, hi) then max(·, lo) (tensorflow/core/kernels/cwise_op_clip.cc).
   */
  private static void clipByValue(ConversionContext ctx) {
    OnnxBuilder o = ctx.onnx();
    Value x = ctx.input(0), lo = ctx.input(1), hi = ctx.input(2);
    boolean scalars = lo.shape().hasRank() && lo.shape().rank() == 0 && hi.shape().hasRank()
        && hi.shape().rank() == 0;
    if (scalars) {
      ctx.setOutput(0, OrtKernelTypes.op(o, "Clip", CLIP, List.of(x, lo, hi), Map.<String, Attr>of()));
      return;
    }
    Value upper = OrtKernelTypes.op(o, "Min", ARITH, x, hi);
    ctx.setOutput(0, OrtKernelTypes.op(o, "Max", ARITH, upper, lo));
  }
}
