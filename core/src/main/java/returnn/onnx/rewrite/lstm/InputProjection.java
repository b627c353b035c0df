package returnn.onnx.rewrite.lstm;

import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * The input projection RETURNN builds in front of NativeLstm2 and LstmGenericBase (RETURNN_GRAPHS.md "LSTM layers",
 * step 1): {@code dot(x, W) + b}, where RETURNN's {@code dot} is Reshape(x, [-1, in]) → MatMul W → Reshape back to
 * x's leading dims. Folded into the LSTM's W and B, ONNX LSTM does the projection itself (in one GEMM over all
 * frames) and the TF nodes die.
 *
 * @param input the time-major [T,B,in] tensor before the projection
 * @param weight W [in,4n]; {@code bias} b [4n] or null
 */
record InputProjection(Value input, Tensor weight, Tensor bias) {
  /**
   * The projection producing {@code x}, or null when {@code x} is not one whose intermediate values feed only this
   * LSTM (and Shape ops). (Shared or unrecognised projections stay as they are; the LSTM then takes {@code x} itself.)
   */
  static InputProjection match(Value x, Node lstm) {
    Value projected = x;
    Tensor bias = null;
    Node add = TfPatterns.producer(x, "AddV2", "Add", "BiasAdd");
    if (add != null) {
      bias = TfPatterns.constant(add.input(1));
      if (bias == null || bias.rank() != 1 || !TfPatterns.onlyUsedByOrShape(add.output(0), lstm)) return null;
      projected = add.input(0);
    }
    Node back = TfPatterns.producer(projected, "Reshape");
    if (back == null) return null;
    Node matMul = TfPatterns.producer(back.input(0), "MatMul");
    if (matMul == null || TfPatterns.boolAttr(matMul, "transpose_a", false)
        || TfPatterns.boolAttr(matMul, "transpose_b", false)) {
      return null;
    }
    Tensor w = TfPatterns.constant(matMul.input(1));
    Node flat = TfPatterns.producer(matMul.input(0), "Reshape");
    if (w == null || w.rank() != 2 || flat == null) return null;
    Value input = flat.input(0);
    long[] flatShape = TfPatterns.constLongs(flat.input(1));
    if (flatShape == null || flatShape.length != 2 || flatShape[0] != -1 || flatShape[1] != w.shape()[0]) return null;
    if (!keepsLeadingDims(back.input(1), input)) return null;
    if (add == null ? !TfPatterns.onlyUsedByOrShape(back.output(0), lstm) : !TfPatterns.onlyUsedBy(back.output(0), add)) {
      return null;
    }
    if (!TfPatterns.onlyUsedBy(matMul.output(0), back) || !TfPatterns.onlyUsedBy(flat.output(0), matMul)) return null;
    return new InputProjection(input, w, bias);
  }

  /**
   * The target shape of the Reshape back is {@code [shape(input)[0], shape(input)[1], out]}: RETURNN's dot packs the
   * leading dims of its input in order. Anything else would reorder frames, so folding would be wrong.
   */
  private static boolean keepsLeadingDims(Value shape, Value input) {
    Node pack = TfPatterns.producer(shape, "Pack");
    if (pack == null || pack.inputs().size() != 3) return false;
    for (int k = 0; k < 2; k++) {
      Node slice = TfPatterns.producer(pack.input(k), "StridedSlice");
      if (slice == null || slice.intAttr("shrink_axis_mask", 0) != 1 || slice.intAttr("begin_mask", 0) != 0
          || slice.intAttr("end_mask", 0) != 0 || slice.intAttr("ellipsis_mask", 0) != 0
          || slice.intAttr("new_axis_mask", 0) != 0) {
        return false;
      }
      long[] begin = TfPatterns.constLongs(slice.input(1));
      long[] end = TfPatterns.constLongs(slice.input(2));
      long[] strides = TfPatterns.constLongs(slice.input(3));
      if (begin == null || end == null || strides == null || begin[0] != k || end[0] != k + 1 || strides[0] != 1) {
        return false;
      }
      Node shapeOf = TfPatterns.producer(slice.input(0), "Shape");
      if (shapeOf == null || !TfPatterns.same(shapeOf.input(0), input)) return false;
    }
    return true;
  }
}
