package returnn.onnx.convert.handlers;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/** Matrix products and bias addition. ONNX MatMul broadcasts batch dims numpy-style, as BatchMatMulV2/V3 do. */
final class NnMatMul {
  private NnMatMul() {}

  /**
   * MatMul is rank 2 only. A transposed constant weight becomes a pre-transposed constant (the Transpose folds).
   */
  static void matMul(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value a = ctx.input(0), w = ctx.input(1);
    if (ctx.attrBool("transpose_a", false)) a = b.transpose(a, 1, 0);
    if (ctx.attrBool("transpose_b", false)) w = b.transpose(w, 1, 0);
    ctx.setOutput(0, b.op("MatMul", a, w));
  }

  /** adj_x/adj_y transpose the last two dims (adjoint = transpose for real types). V3 casts Ta/Tb to Tout. */
  static void batchMatMul(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0), y = ctx.input(1);
    DType out = ctx.attrType("Tout");
    if (out != null) {
      x = b.cast(x, out);
      y = b.cast(y, out);
    }
    if (ctx.attrBool("adj_x", false)) x = swapLast(ctx, x, "x");
    if (ctx.attrBool("adj_y", false)) y = swapLast(ctx, y, "y");
    ctx.setOutput(0, b.op("MatMul", x, y));
  }

  private static Value swapLast(ConversionContext ctx, Value v, String what) {
    if (!v.shape().hasRank()) throw ctx.error("adj_" + what + " needs the rank of " + what + ", which is unknown");
    int r = v.shape().rank();
    if (r < 2) throw ctx.error(what + " has rank " + r + ", BatchMatMul needs at least 2");
    long[] perm = new long[r];
    for (int i = 0; i < r; i++) perm[i] = i;
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    return ctx.onnx().transpose(v, perm);
  }

  /** NHWC: the bias is on the last axis (plain broadcasting); NCHW: on axis 1, so it gets trailing unit dims. */
  static void biasAdd(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0), bias = ctx.input(1);
    String fmt = ctx.attrString("data_format", "NHWC");
    if (fmt.equals("NCHW")) {
      if (!x.shape().hasRank()) throw ctx.error("BiasAdd with data_format NCHW needs the rank of its input");
      int r = x.shape().rank();
      if (r > 2) {
        long[] axes = new long[r - 2];
        for (int i = 0; i < axes.length; i++) axes[i] = i + 1;
        bias = b.unsqueeze(bias, axes);
      }
    } else if (!fmt.equals("NHWC")) {
      throw ctx.unsupported("data_format", fmt);
    }
    ctx.setOutput(0, b.op("Add", x, bias));
  }

  /** TF and ONNX share the einsum equation syntax (letters, ',', '->', '...'); spaces are dropped. */
  static void einsum(ConversionContext ctx) {
    String eq = ctx.attrString("equation", null);
    if (eq == null) throw ctx.error("Einsum without an equation");
    List<Value> in = new ArrayList<>();
    for (int i = 0; i < ctx.inputCount(); i++) in.add(ctx.input(i));
    Map<String, returnn.onnx.ir.Attr> attrs = Attrs.of("equation", eq.replace(" ", ""));
    ctx.setOutput(0, ctx.onnx().op("Einsum", in, attrs));
  }
}
