package returnn.onnx.convert.handlers;

import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.convert.HandlerRegistry;
import returnn.onnx.ir.Value;
import returnn.onnx.ops.Attrs;

/**
 * Pass-through and variable ops. Placeholders, constants and variables themselves are graph inputs and constants
 * after import ({@link returnn.onnx.tf.TfImporter}); what remains here are their readers.
 */
public final class GraphHandlers {
  private GraphHandlers() {}

  public static void register(HandlerRegistry r) {
    for (String op : List.of("Identity", "Snapshot", "StopGradient", "PreventGradient", "CheckNumerics", "EnsureShape",
        "ReadVariableOp", "PlaceholderWithDefault")) {
      r.register(op, GraphHandlers::passThrough);
    }
    r.register("IdentityN", GraphHandlers::identityN);
    r.register("NoOp", ctx -> {});
    r.register("ResourceGather", GraphHandlers::resourceGather);
  }

  /**
   * Identity-like ops become no node at all: consumers use the input directly. A graph output that ends up on a
   * graph input or constant gets its own Identity from the writer, so output names stay exact.
   */
  static void passThrough(ConversionContext ctx) {
    ctx.setOutput(0, ctx.input(0));
  }

  static void identityN(ConversionContext ctx) {
    for (int i = 0; i < ctx.outputCount(); i++) ctx.setOutput(i, ctx.input(i));
  }

  /** Embedding lookup on a resource variable; {@code batch_dims} other than 0 does not occur in RETURNN graphs. */
  static void resourceGather(ConversionContext ctx) {
    long batchDims = ctx.attrInt("batch_dims", 0);
    if (batchDims != 0) throw ctx.unsupported("batch_dims", batchDims);
    Value params = ctx.input(0);
    Value idx = ctx.input(1);
    ctx.setOutput(0, ctx.onnx().op("Gather", List.of(params, idx), Attrs.of("axis", 0)));
  }
}
