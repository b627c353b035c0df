package returnn.onnx.rewrite.shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * A 2-D Conv that is really 1-D along its height: input [N, C, H, 1], kernel [M, C/g, k, 1]. TF's 1-D convolutions
 * over time (RETURNN's Conformer depthwise convolution, {@code conv} layers with one spatial axis) arrive this way,
 * time as the height. The same convolution runs with time as the width ([N, C, 1, H], kernel [M, C/g, 1, k]), which
 * ONNX Runtime's NCHWc kernels compute 2.5x faster (they vectorize along a row; a width of 1 leaves one output per
 * row): a Conformer's depthwise Conv [256 channels, 200 frames, kernel 31] goes from 0.45 to 0.18 ms, with bitwise
 * the same result.
 *
 * <p>Swapping a size-1 axis with its neighbour moves no data, so the input and output are re-viewed with
 * Squeeze/Unsqueeze. When the Conv reads and writes NHWC through the converter's layout Transposes, the re-view is
 * done on the NHWC side ([N, H, 1, C] as [N, 1, H, C]), so that the Transposes stay the plain NHWC↔NCHW ones ONNX
 * Runtime folds into its NCHWc reorders; any other Transpose there costs more than the Conv saves.
 */
final class WideConvRule extends NodeRule {
  private static final long[] TO_NCHW = {0, 3, 1, 2};
  private static final long[] TO_NHWC = {0, 2, 3, 1};

  WideConvRule() {
    super("Shapes.WIDE_CONV", true);
  }

  @Override
  protected boolean visit(Graph root, Node n, RuleContext ctx) {
    if (!n.isOnnx("Conv") || n.output(0).isGraphOutput()) return false;
    Value x = n.input(0), w = n.input(1);
    if (!w.isConstant() || w.constant().rank() != 4 || w.constant().shape()[3] != 1 || w.constant().shape()[2] == 1) return false;
    Shape xs = x.shape();
    if (!xs.hasRank() || xs.rank() != 4 || !xs.dim(3).isFixed() || xs.dim(3).value() != 1) {
      ctx.decline(name(), n.describe(), "a [k, 1] kernel, but the input " + xs + " is not known to have width 1");
      return false;
    }
    rewrite(n, ctx.opset());
    return true;
  }

  private static void rewrite(Node n, int opset) {
    Graph g = n.graph();
    OnnxBuilder b = new OnnxBuilder(g, opset, n.name(), n.tfName());
    Value x = n.input(0);
    Node toNchw = layoutTranspose(x.producer(), TO_NCHW);
    Value wideX = toNchw != null && x.useCount() == 1
        ? b.transpose(moveUnitAxis(b, toNchw.input(0), 2, 1), TO_NCHW)
        : moveUnitAxis(b, x, 3, 2);
    Tensor w = n.input(1).constant();
    long[] s = w.shape();
    List<Value> in = new ArrayList<>(n.inputs());
    in.set(0, wideX);
    // [M, C/g, k, 1] and [M, C/g, 1, k] are the same bytes.
    in.set(1, b.constant(Tensor.lazy(w.dtype(), new long[] {s[0], s[1], 1, s[2]}, w::data)));
    Value y = b.op("Conv", in, swappedAttrs(n));
    Node toNhwc = n.output(0).useCount() == 1 ? layoutTranspose(n.output(0).uses().get(0).node(), TO_NHWC) : null;
    if (toNhwc != null && !toNhwc.output(0).isGraphOutput()) {
      Value nhwc = moveUnitAxis(b, b.transpose(y, TO_NHWC), 1, 2);
      keepType(nhwc, toNhwc.output(0));
      g.replaceAllUses(toNhwc.output(0), nhwc);
      g.removeNode(toNhwc);
    } else {
      Value tall = moveUnitAxis(b, y, 2, 3);
      keepType(tall, n.output(0));
      g.replaceAllUses(n.output(0), tall);
    }
    g.removeNode(n);
  }

  private static Node layoutTranspose(Node t, long[] perm) {
    return t != null && t.isOnnx("Transpose") && Arrays.equals(t.intsAttr("perm"), perm) ? t : null;
  }

  /** {@code v} with its size-1 axis {@code from} moved to {@code to}: a re-view, no data moves. */
  private static Value moveUnitAxis(OnnxBuilder b, Value v, long from, long to) {
    return b.unsqueeze(b.squeeze(v, from), to);
  }

  private static void keepType(Value v, Value like) {
    v.setDtype(like.dtype());
    v.setShape(like.shape());
  }

  private static Map<String, Attr> swappedAttrs(Node n) {
    Map<String, Attr> attrs = new HashMap<>(n.attrs());
    for (String key : List.of("strides", "dilations", "kernel_shape")) {
      long[] v = n.intsAttr(key);
      if (v != null) attrs.put(key, new Attr.Ints(new long[] {v[1], v[0]}));
    }
    long[] pads = n.intsAttr("pads");
    if (pads != null) attrs.put("pads", new Attr.Ints(new long[] {pads[1], pads[0], pads[3], pads[2]}));
    return attrs;
  }
}
