package returnn.onnx.verify.quantize;

/**
 * The largest error int8 dynamic quantization can make in {@code y = a · w}: with ŵ the dequantized weight and â the
 * activation as ONNX Runtime quantizes it (uint8 over [min(0, min a), max(0, max a)], step s),
 * {@code |y - ŷ| = |Σ a(w - ŵ) + ŵ(a - â)| ≤ Σ |a||w - ŵ| + |ŵ|·s}. The step is taken whole, not halved: the zero
 * point is rounded, so the largest activation can land one step from its code. Float rounding adds a relative 1e-5.
 */
final class ErrorBound {
  private ErrorBound() {}

  /** Per element of y [m, n] for a [m, k] (row-major), w and ŵ [k, n]. */
  static double[] of(float[] a, int m, int k, float[] w, float[] wHat, int n) {
    float min = 0, max = 0;
    for (float v : a) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    double step = (max - min) / 255.0;
    double[] bound = new double[m * n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double b = 0, mag = 0;
        for (int p = 0; p < k; p++) {
          float av = a[i * k + p], wv = w[p * n + j], hv = wHat[p * n + j];
          b += Math.abs(av) * Math.abs(wv - hv) + Math.abs(hv) * step;
          mag += Math.abs(av * wv);
        }
        bound[i * n + j] = b + 1e-5 * mag + 1e-6;
      }
    }
    return bound;
  }

  /** ŵ [k, n] from int8 values [k, n] and scales (one, or one per column). */
  static float[] dequantize(double[] q, float[] scales, int k, int n) {
    float[] w = new float[k * n];
    for (int p = 0; p < k; p++) for (int j = 0; j < n; j++) w[p * n + j] = (float) (q[p * n + j] * scales[scales.length == 1 ? 0 : j]);
    return w;
  }
}
