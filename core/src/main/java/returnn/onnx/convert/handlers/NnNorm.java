package returnn.onnx.convert.handlers;

import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/** Batch normalization (inference) and softmax. */
final class NnNorm {
  private NnNorm() {}

  /**
   * FusedBatchNorm/V2/V3 in inference mode: y = x·f + (offset − mean·f) with f = scale / sqrt(var + eps); with
   * constant statistics both factors fold, leaving one Mul and one Add that broadcast over the channel axis
   * (last for NHWC/NDHWC, no transposes). The op definition defaults {@code is_training} to true, so an absent
   * attr means training mode, whose batch statistics are not an inference computation.
   */
  static void fusedBatchNorm(ConversionContext ctx) {
    if (ctx.attrBool("is_training", true)) {
      throw ctx.error("FusedBatchNorm with is_training=true (the op default) computes batch statistics; only "
          + "inference graphs (is_training=false) can be converted");
    }
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    Value scale = ctx.input(1), offset = ctx.input(2), mean = ctx.input(3), var = ctx.input(4);
    String fmt = ctx.attrString("data_format", "NHWC");
    int rank = switch (fmt) {
      case "NHWC", "NCHW" -> 4;
      case "NDHWC", "NCDHW" -> 5;
      default -> throw ctx.unsupported("data_format", fmt);
    };
    DType u = scale.dtype();
    float eps = ctx.attrFloat("epsilon", 1e-4f);
    Value f = b.op("Div", scale, b.op("Sqrt", b.op("Add", var, b.scalar(u, eps))));
    Value shift = b.op("Sub", offset, b.op("Mul", mean, f));
    f = b.cast(f, x.dtype());
    shift = b.cast(shift, x.dtype());
    if (fmt.startsWith("NC")) {
      long[] axes = new long[rank - 2];
      for (int i = 0; i < axes.length; i++) axes[i] = i + 1;
      f = b.unsqueeze(f, axes);
      shift = b.unsqueeze(shift, axes);
    }
    ctx.setOutput(0, b.op("Add", b.op("Mul", x, f), shift));
    // In inference TF (2.18 CPU, checked) passes the given statistics through as batch_mean/batch_variance. The
    // reserve spaces are scratch data for the gradient op (zeros on CPU), not part of an inference computation.
    ctx.setOutput(1, mean);
    ctx.setOutput(2, var);
    for (int i = 3; i < ctx.outputCount(); i++) {
      if (ctx.outputUsed(i)) throw ctx.error("output " + i + " (a reserve space for the gradient) is not converted");
    }
  }

  /** TF always normalizes over the last axis; ONNX Softmax from opset 13 normalizes over just {@code axis}. */
  static void softmax(ConversionContext ctx, String op) {
    ctx.setOutput(0, ctx.onnx().op(op, List.of(ctx.input(0)), Attrs.of("axis", -1)));
  }
}
