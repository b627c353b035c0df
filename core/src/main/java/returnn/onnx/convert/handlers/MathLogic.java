package returnn.onnx.convert.handlers;

import static returnn.onnx.convert.handlers.OrtKernelTypes.EQUAL;
import static returnn.onnx.convert.handlers.OrtKernelTypes.FLOATS;
import static returnn.onnx.convert.handlers.OrtKernelTypes.NUMERIC;
import static returnn.onnx.convert.handlers.OrtKernelTypes.WHERE;

import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.convert.HandlerRegistry;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/** Cast, comparisons, logical ops, selection and float classification. */
final class MathLogic {
  private MathLogic() {}

  static void register(HandlerRegistry r) {
    r.register("Cast", MathLogic::cast);
    compare(r, "Equal", "Equal", EQUAL);
    compare(r, "Less", "Less", NUMERIC);
    compare(r, "LessEqual", "LessOrEqual", NUMERIC);
    compare(r, "Greater", "Greater", NUMERIC);
    compare(r, "GreaterEqual", "GreaterOrEqual", NUMERIC);
    // NotEqual(NaN, NaN) is true in TF, and so is Not(Equal(NaN, NaN)).
    r.register("NotEqual", ctx -> ctx.setOutput(0, ctx.onnx().op("Not",
        OrtKernelTypes.op(ctx.onnx(), "Equal", EQUAL, ctx.input(0), ctx.input(1)))));
    r.register("LogicalAnd", ctx -> ctx.setOutput(0, ctx.onnx().op("And", ctx.input(0), ctx.input(1))));
    r.register("LogicalOr", ctx -> ctx.setOutput(0, ctx.onnx().op("Or", ctx.input(0), ctx.input(1))));
    r.register("LogicalNot", ctx -> ctx.setOutput(0, ctx.onnx().op("Not", ctx.input(0))));
    r.register("Select", MathLogic::select);
    r.register("SelectV2", ctx -> ctx.setOutput(0, where(ctx.onnx(), ctx.input(0), ctx.input(1), ctx.input(2))));
    r.register("IsNan", ctx -> ctx.setOutput(0, OrtKernelTypes.op(ctx.onnx(), "IsNaN", FLOATS, ctx.input(0))));
    r.register("IsInf", ctx -> ctx.setOutput(0, OrtKernelTypes.op(ctx.onnx(), "IsInf", FLOATS, ctx.input(0))));
    r.register("IsFinite", ctx -> {
      OnnxBuilder o = ctx.onnx();
      Value x = ctx.input(0);
      Value bad = o.op("Or", OrtKernelTypes.op(o, "IsNaN", FLOATS, x), OrtKernelTypes.op(o, "IsInf", FLOATS, x));
      ctx.setOutput(0, o.op("Not", bad));
    });
  }

  private static void compare(HandlerRegistry r, String tfOp, String onnxOp, java.util.Set<DType> ok) {
    r.register(tfOp, ctx -> ctx.setOutput(0, OrtKernelTypes.op(ctx.onnx(), onnxOp, ok, ctx.input(0), ctx.input(1))));
  }

  /**
   * TF Cast: float→int truncates toward zero and float→bool is {@code x != 0} (NaN → true); ONNX Cast does the
   * same. {@code Truncate} only changes narrowing float→float casts, which RETURNN graphs do not use with it.
   */
  private static void cast(ConversionContext ctx) {
    Value x = ctx.input(0);
    DType dst = ctx.attrType("DstT");
    if (dst == null) throw ctx.error("Cast without DstT");
    if (ctx.attrBool("Truncate", false) && x.dtype().isFloating() && dst.isFloating() && dst.size < x.dtype().size) {
      throw ctx.unsupported("Truncate=true for the narrowing cast to", dst);
    }
    ctx.setOutput(0, ctx.onnx().cast(x, dst));
  }

  /** ONNX Where; a branch type without a kernel (int8, int16, float16, ...) is computed in a wider type. */
  static Value where(OnnxBuilder o, Value cond, Value x, Value y) {
    DType t = x.dtype();
    if (WHERE.contains(t)) return o.op("Where", cond, x, y);
    DType w = OrtKernelTypes.wider(t, WHERE);
    return o.cast(o.op("Where", cond, o.cast(x, w), o.cast(y, w)), t);
  }

  /**
   * Legacy Select does not broadcast: the condition is a scalar, has the operands' shape, or is a vector that
   * picks whole rows along axis 0. Appending size-1 dims to the condition up to the operands' rank makes all three
   * cases numpy broadcasts for Where.
   */
  private static void select(ConversionContext ctx) {
    OnnxBuilder o = ctx.onnx();
    Value cond = ctx.input(0), x = ctx.input(1), y = ctx.input(2);
    Shape cs = cond.shape(), xs = x.shape();
    if (cs.hasRank() && xs.hasRank()) {
      int rc = cs.rank(), rx = xs.rank();
      if (rc > 0 && rc < rx) {
        long[] axes = new long[rx - rc];
        for (int i = 0; i < axes.length; i++) axes[i] = rc + i;
        cond = o.unsqueeze(cond, axes);
      }
    } else {
      // Ranks known only at run time: reshape the condition to shape(cond) ++ [1] * (rank(x) - rank(cond)).
      Value rankDiff = o.op("Sub", o.op("Size", o.shapeOf(x)), o.op("Size", o.shapeOf(cond)));
      Value ones = o.op("ConstantOfShape", List.of(o.reshape(rankDiff, o.constLongs(1))),
          Attrs.of("value", Tensor.vectorLongs(1)));
      cond = o.reshape(cond, o.concat(List.of(o.shapeOf(cond), ones), 0));
    }
    ctx.setOutput(0, where(o, cond, x, y));
  }
}
