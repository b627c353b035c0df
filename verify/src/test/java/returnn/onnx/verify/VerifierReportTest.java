package returnn.onnx.verify;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/** verify's verdict: outputs that are NaN or infinite everywhere fail, even when TensorFlow's are the same. */
class VerifierReportTest {
  private static Tensor filled(float v) {
    float[] a = new float[12];
    Arrays.fill(a, v);
    return Tensor.ofFloats(new long[] {3, 4}, a);
  }

  private static Verifier.Report report(Tensor tf, Tensor ort) {
    return new Verifier.Report(List.of(Comparison.of("out", tf, ort)), Map.of("out", DType.FLOAT), Map.of(), 1e-5);
  }

  @Test
  void allNanOrInfOutputsFailUnlessAllowed() {
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      Verifier.Report r = report(filled(bad), filled(bad));
      assertTrue(r.comparisons().get(0).maxAbs() == 0, "the comparison alone sees no difference");
      assertFalse(r.ok(), r.format());
      assertTrue(r.format().contains("warning: output out is NaN or infinite everywhere"), r.format());
      assertTrue(r.allowingNonFinite(true).ok(), "--allow-non-finite accepts it");
    }
    // One finite value is enough to pass (when it agrees): NaN where TF has NaN is legitimate.
    float[] a = new float[12];
    Arrays.fill(a, Float.NaN);
    a[5] = 1f;
    Tensor partly = Tensor.ofFloats(new long[] {3, 4}, a);
    assertTrue(report(partly, partly).ok());
    assertTrue(report(filled(0.5f), filled(0.5f)).ok());
  }

  /**
   * The worst value is where the abs error is largest, and is printed beside "max abs": here index 0 has the larger
   * abs error (0.5 of 100) and index 1 the larger rel error (0.01 of 0.001).
   */
  @Test
  void worstIndexStandsBesideMaxAbs() {
    Tensor tf = Tensor.ofFloats(new long[] {2}, 100f, 0.001f);
    Tensor ort = Tensor.ofFloats(new long[] {2}, 100.5f, 0.011f);
    String line = Comparison.of("out", tf, ort).toString();
    assertTrue(line.matches(".*max abs 0\\.500 \\(worst at flat index 0: expected 100\\.0, got 100\\.5\\)  max rel 10\\.0\\s*"),
        line);
  }
}
