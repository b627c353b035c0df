package returnn.onnx.bench;

import returnn.onnx.ir.Tensor;

/**
 * The task metric of the bench rows, from each row's outputs on the same data: perplexity for language models
 * (output at t scores the token at t+1; the output may be probabilities, as RETURNN's softmax layer gives, or logits),
 * and for other models the frame error against a reference row: the share of frames whose argmax over the last axis
 * differs.
 */
final class TaskMetric {
  private final boolean lm;
  private final double[] logProb;
  private final long[] scored;
  private final int[][][] argmax;

  TaskMetric(boolean lm, int rows, int sequences) {
    this.lm = lm;
    this.logProb = new double[rows];
    this.scored = new long[rows];
    this.argmax = new int[rows][sequences][];
  }

  boolean isLm() {
    return lm;
  }

  /** Records row {@code row}'s output [1,T,V] for sequence {@code seq}. */
  void add(int row, int seq, BenchData.Sequence s, Tensor out) {
    long[] shape = out.shape();
    int t = (int) shape[shape.length - 2], v = (int) shape[shape.length - 1];
    float[] y = out.toFloats();
    if (!lm) {
      int[] a = new int[t];
      for (int i = 0; i < t; i++) a[i] = argmax(y, i * v, v);
      argmax[row][seq] = a;
      return;
    }
    boolean probabilities = Math.abs(sum(y, 0, v) - 1) < 1e-3;
    for (int i = 0; i + 1 < s.tokens().length && i < t; i++) {
      int next = s.tokens()[i + 1];
      logProb[row] += probabilities ? Math.log(Math.max(y[i * v + next], Float.MIN_VALUE)) : logSoftmax(y, i * v, v, next);
      scored[row]++;
    }
  }

  double perplexity(int row) {
    return Math.exp(-logProb[row] / scored[row]);
  }

  /** Share of frames of {@code row} whose argmax differs from {@code reference}'s. */
  double frameError(int row, int reference) {
    long frames = 0, differ = 0;
    for (int s = 0; s < argmax[row].length; s++) {
      int[] a = argmax[row][s], r = argmax[reference][s];
      for (int i = 0; i < a.length; i++) {
        frames++;
        if (a[i] != r[i]) differ++;
      }
    }
    return frames == 0 ? 0 : (double) differ / frames;
  }

  /** The column header; {@code reference} names the reference row of frame errors. */
  String header(String reference) {
    return lm ? "perplexity" : "frame err vs " + reference;
  }

  String format(int row, int reference) {
    return lm ? String.format("%.4g", perplexity(row)) : String.format("%.2f%%", 100 * frameError(row, reference));
  }

  private static int argmax(float[] y, int off, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (y[off + i] > y[off + best]) best = i;
    return best;
  }

  private static double sum(float[] y, int off, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += y[off + i];
    return s;
  }

  private static double logSoftmax(float[] y, int off, int n, int k) {
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) max = Math.max(max, y[off + i]);
    double s = 0;
    for (int i = 0; i < n; i++) s += Math.exp(y[off + i] - max);
    return y[off + k] - max - Math.log(s);
  }
}
