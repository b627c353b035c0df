package returnn.onnx.eval;

import java.util.Arrays;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * A small dense array for constant folding: integer and bool data as long[], floating data as double[]. Results
 * are converted back to the tensor dtype, so float32 folding rounds like float32 arithmetic for the basic ops.
 */
final class NdArray {
  final DType dtype;
  final long[] shape;
  final long[] l;
  final double[] d;

  NdArray(DType dtype, long[] shape, long[] l, double[] d) {
    this.dtype = dtype;
    this.shape = shape;
    this.l = l;
    this.d = d;
  }

  static NdArray of(Tensor t) {
    if (t.dtype().isFloating()) return new NdArray(t.dtype(), t.shape(), null, t.toDoubles());
    return new NdArray(t.dtype(), t.shape(), t.toLongs(), null);
  }

  static NdArray longs(DType dt, long[] shape, long[] v) {
    return new NdArray(dt, shape, v, null);
  }

  static NdArray doubles(DType dt, long[] shape, double[] v) {
    return new NdArray(dt, shape, null, v);
  }

  NdArray withDtype(DType t) {
    return new NdArray(t, shape, l, d);
  }

  boolean floating() {
    return d != null;
  }

  int size() {
    return floating() ? d.length : l.length;
  }

  double getD(int i) {
    return floating() ? d[i] : l[i];
  }

  long getL(int i) {
    return floating() ? (long) d[i] : l[i];
  }

  Tensor toTensor() {
    if (floating()) {
      double[] v = d;
      if (dtype == DType.FLOAT) {
        v = new double[d.length];
        for (int i = 0; i < v.length; i++) v[i] = (float) d[i];
      }
      return Tensor.fromDoubles(dtype, shape, v);
    }
    return Tensor.fromLongs(dtype, shape, l);
  }

  /** Elements gathered by flat source index. */
  NdArray take(long[] newShape, int[] srcIndex) {
    if (floating()) {
      double[] v = new double[srcIndex.length];
      for (int i = 0; i < v.length; i++) v[i] = d[srcIndex[i]];
      return doubles(dtype, newShape, v);
    }
    long[] v = new long[srcIndex.length];
    for (int i = 0; i < v.length; i++) v[i] = l[srcIndex[i]];
    return longs(dtype, newShape, v);
  }

  /** For broadcasting: the flat index into an array of shape {@code from} for output position {@code flat}. */
  static int broadcastIndex(long[] outShape, long[] outStrides, long[] from, long[] fromStrides, int flat) {
    int idx = 0;
    int off = outShape.length - from.length;
    for (int k = 0; k < outShape.length; k++) {
      long coord = (flat / outStrides[k]) % outShape[k];
      int j = k - off;
      if (j >= 0 && from[j] != 1) idx += (int) (coord * fromStrides[j]);
    }
    return idx;
  }

  @Override
  public String toString() {
    return dtype + Arrays.toString(shape);
  }
}
