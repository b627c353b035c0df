package returnn.onnx.rewrite.controlflow;

import java.util.Set;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/**
 * TF TensorArrays as plain tensors. A TensorArray is a handle plus a "flow" scalar that orders its reads and writes; at
 * inference what matters is what the array holds at a given flow value: all its elements stacked along a new first
 * axis, and its size. So a {@code ScatterV3} (what {@code unstack} builds) makes the array its scattered value, a loop
 * that writes element {@code i} in iteration {@code i} makes it the loop's scan output (reversed for a loop counting
 * down), and reads become Gathers, after the loop or inside a later loop that enters the flow as a loop constant. The
 * flow value and the handle then disappear.
 */
final class TensorArrays {
  private TensorArrays() {}

  static final Set<String> OPS = Set.of("TensorArrayV3", "TensorArrayScatterV3", "TensorArrayReadV3",
      "TensorArrayWriteV3", "TensorArrayGatherV3", "TensorArraySizeV3", "TensorArrayConcatV3", "TensorArraySplitV3",
      "TensorArrayCloseV3", "TensorArrayGradV3");

  /** The array's elements stacked {@code [size, element...]} and its size (an int32 scalar, TF's type for it). */
  record Contents(Value array, Value size) {}

  static boolean isOp(Node n) {
    return n != null && n.domain().equals(Node.TF) && OPS.contains(n.op());
  }

  /** Which input of a TensorArray op is the flow (-1: none). */
  static int flowInput(Node n) {
    return switch (n.op()) {
      case "TensorArrayReadV3", "TensorArrayGatherV3" -> 2;
      case "TensorArrayWriteV3", "TensorArrayScatterV3", "TensorArraySplitV3" -> 3;
      case "TensorArraySizeV3", "TensorArrayConcatV3" -> 1;
      default -> -1;
    };
  }

  /** A value seen through TF Identity and loop-constant Enter nodes (how handles and read-only flows enter loops). */
  static Value source(Value v) {
    while (v != null && (TfNodes.producedBy(v, "Identity")
        || (TfNodes.producedBy(v, "Enter") && v.producer().boolAttr("is_constant", false)))) {
      v = v.producer().input(0);
    }
    return v;
  }

  /** The TensorArrayV3 node behind a handle value, or null. */
  static Node arrayOf(Value handle) {
    Value v = source(handle);
    return v != null && TfNodes.producedBy(v, "TensorArrayV3") && v.outputIndex() == 0 ? v.producer() : null;
  }

  /**
   * What the array holds at a flow that a {@code TensorArrayScatterV3} with indices {@code range(0, n)} produced (TF's
   * {@code unstack}): the scattered value itself. Null if {@code flow} comes from anything else.
   */
  static Contents scattered(Value flow) {
    Value v = source(flow);
    if (!TfNodes.producedBy(v, "TensorArrayScatterV3")) return null;
    Node sc = v.producer();
    Node ta = arrayOf(sc.input(0));
    if (ta == null) throw ConversionErrors.at(sc, "scatters into something that is not a TensorArrayV3 handle");
    if (source(sc.input(3)) != TfNodes.output(ta, 1)) {
      throw ConversionErrors.at(sc, "scatters into a TensorArray that was written before; only a fresh array "
          + "(TF's unstack) is supported");
    }
    if (!isRangeFromZero(sc.input(1))) {
      throw ConversionErrors.at(sc, "scatters to indices other than range(0, n); only TF's unstack is supported");
    }
    if (ta.boolAttr("dynamic_size", false)) {
      throw ConversionErrors.at(sc, "scatters into a dynamic_size TensorArray; only fixed-size arrays are supported");
    }
    return new Contents(sc.input(2), ta.input(0));
  }

  /** Gathers first: a stack() is recognised by its Range over the array's size, before the size op is replaced. */
  static int readerRank(Node n) {
    return switch (n.op()) {
      case "TensorArrayGatherV3" -> 0;
      case "TensorArrayReadV3" -> 1;
      case "TensorArraySizeV3" -> 2;
      default -> 3;
    };
  }

  /** A TF Range(0, limit, 1) (any limit). */
  static boolean isRangeFromZero(Value v) {
    v = TfNodes.skipIdentity(v);
    if (!TfNodes.producedBy(v, "Range")) return false;
    Node r = v.producer();
    return isScalar(r.input(0), 0) && isScalar(r.input(2), 1);
  }

  private static boolean isScalar(Value v, long x) {
    Tensor t = v == null ? null : v.constant();
    return t != null && t.size() == 1 && t.getLong(0) == x;
  }

  /**
   * Replaces a reading op ({@code ReadV3}, {@code GatherV3}, {@code SizeV3}) of an array with contents {@code c} by
   * ONNX ops emitted through {@code b}: Gather along the first axis, the whole array for TF's {@code stack()}
   * ({@code gather(range(0, size()))}), the size. Types come from the TF attributes, as the inputs may still be TF values.
   */
  static void replaceReader(Node op, Contents c, OnnxBuilder b) {
    Value out;
    switch (op.op()) {
      case "TensorArrayReadV3" -> out = typed(b.gather(c.array(), op.input(1), 0), TfNodes.type(op, "dtype"));
      case "TensorArrayGatherV3" -> out = isStack(op)
          ? c.array() : typed(b.gather(c.array(), op.input(1), 0), TfNodes.type(op, "dtype"));
      case "TensorArraySizeV3" -> out = c.size();
      default -> throw ConversionErrors.at(op, "is a TensorArray op that can only appear inside the writing loop");
    }
    Value old = TfNodes.output(op, 0);
    if (old != null) op.graph().replaceAllUses(old, out);
    op.graph().removeNode(op);
  }

  /** {@code TensorArrayGatherV3(h, range(0, TensorArraySizeV3(h, flow)), flow)}: TF's {@code stack()}. */
  private static boolean isStack(Node gather) {
    if (!isRangeFromZero(gather.input(1))) return false;
    Value limit = TfNodes.skipIdentity(TfNodes.skipIdentity(gather.input(1)).producer().input(1));
    if (!TfNodes.producedBy(limit, "TensorArraySizeV3")) return false;
    Node size = limit.producer();
    return arrayOf(size.input(0)) == arrayOf(gather.input(0)) && source(size.input(1)) == source(gather.input(2));
  }

  private static Value typed(Value v, DType t) {
    if (v.dtype() == null) v.setDtype(t);
    return v;
  }
}
