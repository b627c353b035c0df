package returnn.onnx.convert.handlers;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/** Reductions, ArgMax/ArgMin, TopKV2 and Cumsum. */
final class NnReduce {
  private NnReduce() {}

  private static final Map<String, String> ONNX_REDUCE = Map.of("Mean", "ReduceMean", "Sum", "ReduceSum",
      "Max", "ReduceMax", "Min", "ReduceMin", "Prod", "ReduceProd", "All", "ReduceMin", "Any", "ReduceMax");

  /**
   * Sum/Mean/Max/Min/Prod/All/Any over {@code reduction_indices} (scalar or vector, possibly empty, possibly
   * negative). TF reduces nothing for empty axes; ONNX reduces everything unless noop_with_empty_axes=1. Run-time axes
   * need opset 18 (axes as an input) except for Sum, and Any/All, which count with ReduceSum.
   */
  static void reduce(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    boolean keep = ctx.attrBool("keep_dims", false);
    String tfOp = ctx.op();
    String op = ONNX_REDUCE.get(tfOp);
    Tensor axesConst = ctx.constInput(1);
    long[] axes = axesConst == null ? null : normalize(axesConst.toLongs(), x.shape());
    if (axes != null && axes.length == 0) {
      ctx.setOutput(0, x);
      return;
    }
    // ONNX has no bool reductions: All = min and Any = max over 0/1.
    boolean bool = tfOp.equals("All") || tfOp.equals("Any");
    Value in = bool ? b.cast(x, DType.INT32) : x;
    // TF's integer Mean is sum / count with C++ (truncating) division; ReduceMean's integer rounding is not
    // specified, so integers take ReduceSum and a truncating Div.
    boolean intMean = tfOp.equals("Mean") && !x.dtype().isFloating();
    if (intMean) op = "ReduceSum";
    if (axes == null && bool && ctx.opset() < 18) {
      ctx.setOutput(0, countingBoolReduce(b, tfOp, x, ctx.input(1), keep));
      return;
    }
    Value y;
    if (axes != null) {
      y = b.reduce(op, in, axes, keep);
    } else {
      if (!op.equals("ReduceSum") && ctx.opset() < 18) {
        throw ctx.error(tfOp + " over axes computed at run time needs opset 18 or newer (" + op
            + " takes axes as an input from 18), target is opset " + ctx.opset());
      }
      y = b.reduceDynamic(op, in, b.cast(b.reshape(ctx.input(1), b.constLongs(-1)), DType.INT64), keep);
    }
    if (intMean) y = b.op("Div", y, b.cast(count(b, x, y, axes), x.dtype()));
    ctx.setOutput(0, bool ? b.cast(y, DType.BOOL) : y);
  }

  /**
   * Any/All over run-time axes before opset 18, where only ReduceSum takes axes as an input (from 13): count the true
   * elements, {@code Any = count > 0}, and the false ones, {@code All = count == 0}. Empty axes keep every element
   * (noop_with_empty_axes), so the count is 0/1 per element and the result is x, as TF's identity.
   */
  private static Value countingBoolReduce(OnnxBuilder b, String tfOp, Value x, Value axes, boolean keep) {
    boolean all = tfOp.equals("All");
    Value counted = b.cast(all ? b.op("Not", x) : x, DType.INT32);
    Value n = b.reduceDynamic("ReduceSum", counted, b.cast(b.reshape(axes, b.constLongs(-1)), DType.INT64), keep);
    return b.op(all ? "Equal" : "Greater", n, b.scalar(DType.INT32, 0));
  }

  /** Number of reduced elements: static when the reduced dims are, else Size(x) / Size(result) (at least 1). */
  private static Value count(OnnxBuilder b, Value x, Value y, long[] axes) {
    Shape s = x.shape();
    if (axes != null && s.hasRank()) {
      long n = 1;
      for (long a : axes) {
        Dim d = s.dim((int) a);
        n = d.isFixed() && n >= 0 ? n * d.value() : -1;
      }
      if (n >= 0) return b.scalarLong(Math.max(n, 1));
    }
    Value sx = b.op("Size", x), sy = b.op("Max", b.op("Size", y), b.scalarLong(1));
    return b.op("Max", b.op("Div", sx, sy), b.scalarLong(1));
  }

  /** Axes made non-negative and deduplicated when the rank is known (ONNX rejects duplicates). */
  private static long[] normalize(long[] axes, Shape s) {
    if (!s.hasRank()) return axes;
    int r = s.rank();
    return Arrays.stream(axes).map(a -> a < 0 ? a + r : a).distinct().sorted().toArray();
  }

  /** ArgMax/ArgMin: TF returns the first index among equal extremes, as ONNX does with select_last_index=0. */
  static void argMinMax(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    long[] dim = ctx.requireConstLongs(1, "dimension");
    if (dim.length != 1) throw ctx.error("dimension must be a scalar, got " + dim.length + " values");
    // ONNX ArgMax/ArgMin have no bool kernel; false < true survives a cast to int32.
    if (x.dtype() == DType.BOOL) x = b.cast(x, DType.INT32);
    Value idx = b.op(ctx.op(), List.of(x), Attrs.of("axis", dim[0], "keepdims", 0, "select_last_index", 0));
    DType out = ctx.attrType("output_type");
    ctx.setOutput(0, b.cast(idx, out == null ? DType.INT64 : out));
  }

  /**
   * TopKV2 over the last axis. TF's k is a scalar, ONNX's a 1-element int64 vector. Always sorted: TF's
   * sorted=false leaves the order unspecified, so sorted output is valid for it too. TF's indices are int32 by
   * default ({@code index_type}).
   */
  static void topK(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value k = b.cast(b.reshape(ctx.input(1), b.constLongs(1)), DType.INT64);
    List<Value> out = b.node(Node.ONNX, "TopK", List.of(ctx.input(0), k),
        Attrs.of("axis", -1, "largest", 1, "sorted", 1), 2);
    ctx.setOutput(0, out.get(0));
    DType it = ctx.attrType("index_type");
    ctx.setOutput(1, b.cast(out.get(1), it == null ? DType.INT32 : it));
  }

  /** Cumsum's exclusive/reverse are ONNX CumSum's attributes; the axis stays a (run-time) scalar input. */
  static void cumsum(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value axis = ctx.input(1);
    Map<String, returnn.onnx.ir.Attr> attrs = Attrs.of("exclusive", ctx.attrBool("exclusive", false) ? 1 : 0,
        "reverse", ctx.attrBool("reverse", false) ? 1 : 0);
    ctx.setOutput(0, b.op("CumSum", List.of(ctx.input(0), axis), attrs));
  }
}
