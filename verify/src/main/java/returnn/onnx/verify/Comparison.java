package returnn.onnx.verify;

import java.util.Arrays;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * How far one output is from its reference: max absolute and relative error, NaN/inf agreement, shape and dtype.
 * Integer and bool outputs must match exactly.
 */
public record Comparison(String name, boolean shapeMatches, boolean dtypeMatches, double maxAbs, double maxRel,
    long mismatchedNonFinite, long count, String detail, long finite) {

  /** Every value of the output (ONNX Runtime's, compared) is NaN or infinite: a broken model, whatever TF says. */
  public boolean allNonFinite() {
    return shapeMatches && count > 0 && finite == 0;
  }

  public static Comparison of(String name, Tensor expected, Tensor actual) {
    boolean shape = Arrays.equals(expected.shape(), actual.shape());
    boolean dtype = expected.dtype() == actual.dtype();
    if (!shape) {
      return new Comparison(name, false, dtype, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, 0, expected.size(),
          "shape " + Arrays.toString(actual.shape()) + ", expected " + Arrays.toString(expected.shape()), 0);
    }
    double maxAbs = 0, maxRel = 0;
    long badNonFinite = 0;
    long worst = -1;
    long finite = 0;
    long n = expected.size();
    for (long i = 0; i < n; i++) {
      double e = expected.getDouble(i), a = actual.getDouble(i);
      boolean ef = Double.isFinite(e), af = Double.isFinite(a);
      if (af) finite++;
      if (!ef || !af) {
        if (!(Double.isNaN(e) && Double.isNaN(a)) && e != a) badNonFinite++;
        continue;
      }
      double d = Math.abs(e - a);
      if (d > maxAbs) {
        maxAbs = d;
        worst = i;
      }
      maxRel = Math.max(maxRel, d / Math.max(Math.abs(e), 1e-6));
    }
    String detail = worst < 0 ? "" : WORST + worst + ": expected " + expected.getDouble(worst)
        + ", got " + actual.getDouble(worst);
    return new Comparison(name, true, dtype, maxAbs, maxRel, badNonFinite, n, detail, finite);
  }

  /**
   * Max |log e - log a| over two probability arrays (natural log): the measure for softmax outputs, whose values are
   * too small for an absolute bound to mean anything. A NaN difference (log of a negative) counts as infinite.
   */
  public static double maxLogDiff(double[] e, double[] a) {
    if (e.length != a.length) return Double.POSITIVE_INFINITY;
    double max = 0;
    for (int i = 0; i < e.length; i++) {
      double d = Math.abs(Math.log(e[i]) - Math.log(a[i]));
      if (Double.isNaN(d) && !(Double.isNaN(e[i]) && Double.isNaN(a[i]))) return Double.POSITIVE_INFINITY;
      if (!Double.isNaN(d)) max = Math.max(max, d);
    }
    return max;
  }

  /** Within tolerance: exact for integer and bool outputs, {@code absTol} for floats, and non-finite values agreeing. */
  public boolean ok(double absTol, DType dtype) {
    if (!shapeMatches || !dtypeMatches || mismatchedNonFinite > 0) return false;
    return dtype.isFloating() ? maxAbs <= absTol : maxAbs == 0;
  }

  /**
   * One line: the max abs error with where it is (the worst value belongs to that metric), then the max rel error,
   * then whatever else is wrong.
   */
  @Override
  public String toString() {
    boolean worst = detail.startsWith(WORST);
    return String.format("%-50s max abs %.3g%s  max rel %.3g%s%s%s", name, maxAbs, worst ? " (" + detail + ")" : "",
        maxRel, mismatchedNonFinite > 0 ? "  non-finite mismatches " + mismatchedNonFinite : "",
        dtypeMatches ? "" : "  DTYPE MISMATCH", worst || detail.isEmpty() ? "" : "  (" + detail + ")");
  }

  private static final String WORST = "worst at flat index ";
}
