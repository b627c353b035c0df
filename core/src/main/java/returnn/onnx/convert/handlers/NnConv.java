package returnn.onnx.convert.handlers;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/**
 * 2-D convolutions and pools. TF defaults to NHWC, ONNX is NCHW only: NHWC nodes get a Transpose on either side
 * (pairs between consecutive conv/pool nodes cancel in {@code Cleanups.CANCEL_TRANSPOSES}).
 */
final class NnConv {
  private static final long[] TO_NCHW = {0, 3, 1, 2};
  private static final long[] TO_NHWC = {0, 2, 3, 1};
  private static final java.util.Set<DType> POOL_TYPES = java.util.EnumSet.of(DType.FLOAT, DType.DOUBLE, DType.INT8, DType.UINT8);

  private NnConv() {}

  static void conv2d(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    boolean nhwc = nhwc(ctx);
    Value x = nhwc ? b.transpose(ctx.input(0), TO_NCHW) : ctx.input(0);
    Value f = ctx.input(1);
    long[] k = kernelOf(f.shape());
    // Filter HWIO → OIHW; a constant filter folds into a transposed constant.
    Value w = b.transpose(f, 3, 2, 0, 1);
    long group = 1;
    Dim cin = x.shape().hasRank() ? x.shape().dim(1) : Dim.UNKNOWN;
    Dim fin = f.shape().hasRank() ? f.shape().dim(2) : Dim.UNKNOWN;
    if (cin.isFixed() && fin.isFixed() && fin.value() > 0 && cin.value() != fin.value()) {
      if (cin.value() % fin.value() != 0) throw ctx.error("input depth " + cin.value() + " is not a multiple of the filter depth " + fin.value());
      group = cin.value() / fin.value(); // TF grouped convolution
    }
    Value y = convLike(ctx, "Conv", List.of(x, w), k, group);
    ctx.setOutput(0, nhwc ? b.transpose(y, TO_NHWC) : y);
  }

  /**
   * Filter [H, W, C, M]: TF output channel c*M + m uses filter[:, :, c, m] on input channel c. Reshaping to
   * [H, W, 1, C*M] keeps that (row-major) order, and HWIO → OIHW gives ONNX's [C*M, 1, H, W] with group = C.
   */
  static void depthwiseConv2d(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    boolean nhwc = nhwc(ctx);
    Value x = nhwc ? b.transpose(ctx.input(0), TO_NCHW) : ctx.input(0);
    Value f = ctx.input(1);
    Shape fs = f.shape();
    if (!fs.hasRank() || fs.rank() != 4 || !fs.dim(2).isFixed() || !fs.dim(3).isFixed()) {
      throw ctx.error("DepthwiseConv2dNative needs a filter of static channel sizes, got shape " + fs);
    }
    long c = fs.dim(2).value(), m = fs.dim(3).value();
    Value hw = b.slice(b.shapeOf(f), new long[] {0}, new long[] {2}, new long[] {0}, null);
    Value w = b.reshape(f, b.concat(List.of(hw, b.constLongs(1, c * m)), 0));
    w = b.transpose(w, 3, 2, 0, 1);
    Value y = convLike(ctx, "Conv", List.of(x, w), kernelOf(fs), c);
    ctx.setOutput(0, nhwc ? b.transpose(y, TO_NHWC) : y);
  }

  /**
   * Transposed convolution (the gradient of a Conv2D with respect to its input): ONNX ConvTranspose without padding
   * gives every position {@code o·s + t·d} of the "full" output; TF's input position i is full position
   * {@code i + pad_before} of the forward convolution (0 for VALID, half of TF's SAME total, rounded down, or the
   * explicit padding), and positions past the full output are zero. input_sizes may be computed at run time.
   */
  static void conv2dBackpropInput(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    boolean nhwc = nhwc(ctx);
    Value dy = nhwc ? b.transpose(ctx.input(2), TO_NCHW) : ctx.input(2);
    Value f = ctx.input(1);
    long[] k = kernelOf(f.shape());
    if (k[0] < 0 || k[1] < 0) throw ctx.error("needs a filter of static height and width, got shape " + f.shape());
    long[] s = spatial(ctx, "strides", ctx.attrInts("strides"), nhwc);
    long[] dAttr = ctx.attrInts("dilations");
    long[] d = dAttr == null ? new long[] {1, 1} : spatial(ctx, "dilations", dAttr, nhwc);
    Value w = b.transpose(f, 3, 2, 0, 1); // [out of the forward conv, its in, kh, kw] = ConvTranspose's [C, M, kh, kw]
    Value full = b.op("ConvTranspose", List.of(dy, w), Attrs.of("strides", s, "dilations", d, "pads", new long[4]));
    Value sizes = b.cast(ctx.input(0), DType.INT64);
    Value in = nhwc ? b.slice(sizes, new long[] {1}, new long[] {3}, new long[] {0}, null)
        : b.slice(sizes, new long[] {2}, new long[] {4}, new long[] {0}, null);
    Value out = b.slice(b.shapeOf(dy), new long[] {2}, new long[] {4}, new long[] {0}, null);
    Value fullSize = b.op("Add", b.op("Mul", b.op("Sub", out, b.constLongs(1, 1)), b.constLongs(s)),
        b.constLongs((k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1));
    String padding = ctx.attrString("padding", null);
    if (padding == null) throw ctx.error("missing attribute padding");
    Value begin = switch (padding) {
      case "VALID" -> b.constLongs(0, 0);
      case "SAME" -> b.op("Div", b.op("Max", b.op("Sub", fullSize, in), b.constLongs(0, 0)), b.constLongs(2, 2));
      case "EXPLICIT" -> {
        long[] p = explicitPads(ctx, nhwc);
        yield b.constLongs(p[0], p[1]);
      }
      default -> throw ctx.unsupported("padding", padding);
    };
    Value end = b.op("Add", begin, in);
    Value after = b.op("Max", b.op("Sub", end, fullSize), b.constLongs(0, 0));
    Value padded = b.op("Pad", full, b.concat(List.of(b.constLongs(0, 0, 0, 0, 0, 0), after), 0));
    Value y = b.op("Slice", padded, begin, end, b.constLongs(2, 3));
    ctx.setOutput(0, nhwc ? b.transpose(y, TO_NHWC) : y);
  }

  /**
   * MaxPool/MaxPoolV2/AvgPool. TF SAME max-pooling never picks a padded element (as if −inf), and ONNX MaxPool
   * ignores pads the same way; TF SAME average-pooling divides by the number of real elements only, which is
   * ONNX's count_include_pad=0.
   */
  static void pool(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    if (ctx.attrString("data_format", "NHWC").equals("NCHW_VECT_C")) throw ctx.unsupported("data_format", "NCHW_VECT_C");
    boolean nhwc = nhwc(ctx);
    long[] ksize, strides;
    if (ctx.op().equals("MaxPoolV2")) {
      ksize = ctx.requireConstLongs(1, "ksize");
      strides = ctx.requireConstLongs(2, "strides");
    } else {
      ksize = ctx.attrInts("ksize");
      strides = ctx.attrInts("strides");
    }
    long[] k = spatial(ctx, "ksize", ksize, nhwc);
    Value x = nhwc ? b.transpose(ctx.input(0), TO_NCHW) : ctx.input(0);
    boolean max = !ctx.op().equals("AvgPool");
    // ONNX Runtime's MaxPool has float, double, int8 and uint8 kernels: other ints go through double, which holds
    // every int32 (and int64 below 2^53) exactly; float16 and bfloat16 through float.
    DType t = x.dtype();
    DType via = t == null || POOL_TYPES.contains(t) ? null : t.isFloating() ? DType.FLOAT : DType.DOUBLE;
    if (via != null) x = b.cast(x, via);
    Value y = convLike(ctx, max ? "MaxPool" : "AveragePool", List.of(x), k, 0, strides);
    if (via != null) y = b.cast(y, t);
    ctx.setOutput(0, nhwc ? b.transpose(y, TO_NHWC) : y);
  }

  private static Value convLike(ConversionContext ctx, String op, List<Value> in, long[] k, long group) {
    return convLike(ctx, op, in, k, group, ctx.attrInts("strides"));
  }

  /** Emits Conv/MaxPool/AveragePool on NCHW input with TF's padding; group 0 means "no group attr" (pools). */
  private static Value convLike(ConversionContext ctx, String op, List<Value> in, long[] k, long group, long[] stridesAttr) {
    OnnxBuilder b = ctx.onnx();
    boolean nhwc = nhwc(ctx);
    long[] s = spatial(ctx, "strides", stridesAttr, nhwc);
    long[] dAttr = ctx.attrInts("dilations");
    long[] d = dAttr == null ? new long[] {1, 1} : spatial(ctx, "dilations", dAttr, nhwc);
    boolean dilated = d[0] != 1 || d[1] != 1;
    Map<String, Attr> attrs = Attrs.of("strides", s);
    if (op.equals("Conv")) {
      attrs.put("dilations", Attrs.attr(d));
      attrs.put("group", Attrs.attr(group));
    } else {
      attrs.put("kernel_shape", Attrs.attr(k));
    }
    if (op.equals("AveragePool")) attrs.put("count_include_pad", Attrs.attr(0));
    Value x = in.get(0);
    String padding = ctx.attrString("padding", null);
    if (padding == null) throw ctx.error("missing attribute padding");
    switch (padding) {
      case "VALID" -> attrs.put("pads", Attrs.attr(new long[4]));
      case "EXPLICIT" -> attrs.put("pads", Attrs.attr(explicitPads(ctx, nhwc)));
      case "SAME" -> {
        long[] pads = samePads(x.shape(), k, s, d);
        if (pads != null) attrs.put("pads", Attrs.attr(pads));
        else if (!dilated) attrs.put("auto_pad", Attrs.attr("SAME_UPPER")); // TF SAME puts the odd pad at the end
        else x = padAtRunTime(ctx, x, k, s, d); // ORT rejects auto_pad with dilations
      }
      default -> throw ctx.unsupported("padding", padding);
    }
    List<Value> inputs = new ArrayList<>(in);
    inputs.set(0, x);
    return b.op(op, inputs, attrs);
  }

  /**
   * TF SAME: out = ceil(in / s), total pad = max((out - 1)·s + (k - 1)·d + 1 − in, 0), the smaller half at the
   * start. Null when an input size or the kernel is not static.
   */
  private static long[] samePads(Shape xs, long[] k, long[] s, long[] d) {
    if (!xs.hasRank() || xs.rank() != 4) return null;
    long[] pads = new long[4];
    for (int i = 0; i < 2; i++) {
      Dim in = xs.dim(2 + i);
      if (!in.isFixed() || k[i] < 0) return null;
      long out = (in.value() + s[i] - 1) / s[i];
      long total = Math.max((out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in.value(), 0);
      pads[i] = total / 2;
      pads[i + 2] = total - total / 2;
    }
    return pads;
  }

  /** The SAME pads of {@link #samePads} computed from the run-time shape, applied with a zero Pad. */
  private static Value padAtRunTime(ConversionContext ctx, Value x, long[] k, long[] s, long[] d) {
    if (k[0] < 0 || k[1] < 0) throw ctx.error("dilated SAME convolution with dynamic input size needs a static kernel size");
    OnnxBuilder b = ctx.onnx();
    Value in = b.slice(b.shapeOf(x), new long[] {2}, new long[] {4}, new long[] {0}, null);
    Value sv = b.constLongs(s);
    Value out = b.op("Div", b.op("Add", in, b.constLongs(s[0] - 1, s[1] - 1)), sv);
    Value span = b.op("Add", b.op("Mul", b.op("Sub", out, b.constLongs(1, 1)), sv),
        b.constLongs((k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1));
    Value total = b.op("Max", b.op("Sub", span, in), b.constLongs(0, 0));
    Value begin = b.op("Div", total, b.constLongs(2, 2));
    Value end = b.op("Sub", total, begin);
    Value pads = b.concat(List.of(b.constLongs(0, 0), begin, b.constLongs(0, 0), end), 0);
    return b.op("Pad", x, pads);
  }

  /** explicit_paddings: [before, after] per dim in data_format order → ONNX [h_begin, w_begin, h_end, w_end]. */
  private static long[] explicitPads(ConversionContext ctx, boolean nhwc) {
    long[] p = ctx.attrInts("explicit_paddings");
    if (p == null || p.length != 8) throw ctx.error("padding EXPLICIT needs 8 explicit_paddings, got " + (p == null ? "none" : p.length));
    int h = nhwc ? 1 : 2, w = h + 1;
    if (p[0] != 0 || p[1] != 0 || p[(nhwc ? 3 : 1) * 2] != 0 || p[(nhwc ? 3 : 1) * 2 + 1] != 0) {
      throw ctx.error("explicit_paddings on the batch or channel dim are not supported: " + java.util.Arrays.toString(p));
    }
    return new long[] {p[2 * h], p[2 * w], p[2 * h + 1], p[2 * w + 1]};
  }

  private static boolean nhwc(ConversionContext ctx) {
    String fmt = ctx.attrString("data_format", "NHWC");
    if (!fmt.equals("NHWC") && !fmt.equals("NCHW")) throw ctx.unsupported("data_format", fmt);
    return fmt.equals("NHWC");
  }

  /** The two spatial entries of a 4-entry TF list (strides, dilations, ksize); batch and channel must be 1. */
  private static long[] spatial(ConversionContext ctx, String what, long[] v, boolean nhwc) {
    if (v == null || v.length != 4) throw ctx.error(what + " must have 4 entries, got " + (v == null ? "none" : v.length));
    int c = nhwc ? 3 : 1;
    if (v[0] != 1 || v[c] != 1) throw ctx.error(what + " on the batch or channel dim is not supported: " + java.util.Arrays.toString(v));
    return nhwc ? new long[] {v[1], v[2]} : new long[] {v[2], v[3]};
  }

  /** Kernel height and width from a [H, W, ...] filter shape; -1 where unknown. */
  private static long[] kernelOf(Shape fs) {
    if (!fs.hasRank() || fs.rank() != 4) return new long[] {-1, -1};
    return new long[] {fs.dim(0).isFixed() ? fs.dim(0).value() : -1, fs.dim(1).isFixed() ? fs.dim(1).value() : -1};
  }
}
