package returnn.onnx.verify.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.quantize.QuantizeOptions;

/**
 * Each quantization rule's model against its fp32 original in ONNX Runtime. MatMul and Gemm meet the per-element bound
 * of {@link ErrorBound} computed from the actual weights (so a weight in the wrong layout or a bias in the wrong slot
 * fails); LSTM, embedding and Loop outputs stay within bounds a few quantization steps wide. All with the default
 * weight range: full range per channel would make ONNX Runtime's AVX2 kernels saturate on CPUs without VNNI and miss
 * the bound by up to 10x ({@link QuantizeOptions.Range}).
 */
class Int8AccuracyTest {
  private static final int K = 48, N = 24;

  static Stream<Arguments> matMulOptions() {
    return Stream.of(
        Arguments.of("per-tensor", QuantizeOptions.defaults()),
        Arguments.of("per-channel", QuantizeOptions.defaults().withPerChannel(true)),
        Arguments.of("standard ops", QuantizeOptions.defaults().withPerChannel(true).withStandardOps(true)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("matMulOptions")
  void matMulWithBiasStaysWithinTheQuantizationBound(String name, QuantizeOptions o) {
    Tensor x = Tensor.ofFloats(new long[] {2, 5, K}, QuantizeModels.random(11, 2 * 5 * K, 1.0));
    QuantizeModels.Run r = QuantizeModels.run(() -> QuantizeModels.matMul(K, N), o, QuantizeModels.feeds("x", x));
    String expectedOp = o.standardOps() ? "MatMulInteger" : "com.microsoft.DynamicQuantizeMatMul";
    assertEquals(1, r.quantized().count(expectedOp), r.quantized().opHistogram().toString());
    assertEquals(0, r.quantized().count("MatMul"));
    float[] w = constant(QuantizeModels.matMul(K, N), "W").toFloats();
    assertWithinBound(x.toFloats(), 10, w, dequantized(r.quantized(), "W"), r.fp32().get("y"), r.int8().get("y"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("matMulOptions")
  void aScalarFactorFoldedIntoTheScalesStaysWithinTheScaledBound(String name, QuantizeOptions o) {
    float c = 0.75f;
    Tensor x = Tensor.ofFloats(new long[] {2, 5, K}, QuantizeModels.random(14, 2 * 5 * K, 1.0));
    QuantizeModels.Run r = QuantizeModels.run(() -> QuantizeModels.scaledMatMul(K, N, c), o, QuantizeModels.feeds("x", x));
    assertEquals(o.standardOps() ? 2 : 0, r.quantized().count("Mul"), "only the standard chain's own Muls: " + r.quantized().opHistogram());
    float[] w = constant(QuantizeModels.matMul(K, N), "W").toFloats(), wHat = dequantizedScaled(r.quantized(), "W");
    for (int i = 0; i < w.length; i++) w[i] *= c;
    assertWithinBound(x.toFloats(), 10, w, wHat, r.fp32().get("y"), r.int8().get("y"));
  }

  @Test
  void gemmWithTransposedScaledWeightAndBiasStaysWithinTheBound() {
    Tensor x = Tensor.ofFloats(new long[] {7, K}, QuantizeModels.random(12, 7 * K, 1.0));
    QuantizeModels.Run r = QuantizeModels.run(() -> QuantizeModels.gemm(K, N), QuantizeOptions.defaults().withPerChannel(true),
        QuantizeModels.feeds("x", x));
    assertEquals(1, r.quantized().count("com.microsoft.DynamicQuantizeMatMul"));
    float[] b = constant(QuantizeModels.gemm(K, N), "B").toFloats();
    float[] w = new float[K * N];
    for (int k = 0; k < K; k++) for (int n = 0; n < N; n++) w[k * N + n] = 0.5f * b[n * K + k];
    assertWithinBound(x.toFloats(), 7, w, dequantized(r.quantized(), "B"), r.fp32().get("y"), r.int8().get("y"));
  }

  static Stream<Arguments> lstmCases() {
    return Stream.of(Arguments.of("forward", false), Arguments.of("bidirectional", false), Arguments.of("forward", true),
        Arguments.of("bidirectional", true));
  }

  @ParameterizedTest(name = "{0} per-channel={1}")
  @MethodSource("lstmCases")
  void lstmOutputsStayWithinAFewStepsOfFp32(String direction, boolean perChannel) {
    int input = 12, hidden = 16;
    Tensor x = Tensor.ofFloats(new long[] {6, 3, input}, QuantizeModels.random(13, 6 * 3 * input, 1.0));
    Tensor lengths = Tensor.ofInts(new long[] {3}, 6, 2, 4);
    QuantizeModels.Run r = QuantizeModels.run(() -> QuantizeModels.lstm(input, hidden, direction),
        QuantizeOptions.defaults().withPerChannel(perChannel), QuantizeModels.feeds("x", x, "lengths", lengths));
    assertEquals(1, r.quantized().count("com.microsoft.DynamicQuantizeLSTM"));
    assertEquals(0, r.quantized().count("LSTM"));
    for (String out : List.of("Y", "Y_h", "Y_c")) {
      double[] e = r.fp32().get(out).toDoubles(), a = r.int8().get(out).toDoubles();
      double maxAbs = 0;
      for (int i = 0; i < e.length; i++) {
        if (e[i] == 0) assertEquals(0, a[i], out + ": padded frames stay zero");
        maxAbs = Math.max(maxAbs, Math.abs(e[i] - a[i]));
      }
      // h and c move by about 0.3 per step; a transposed weight would move them by as much.
      assertTrue(maxAbs < 0.03, out + " max abs error " + maxAbs);
    }
  }

  @ParameterizedTest(name = "per-channel={0}")
  @MethodSource("booleans")
  void embeddingRowsAreTheDequantizedTableRows(boolean perChannel) {
    int vocab = 8192, dim = 8;
    Tensor ids = Tensor.ofInts(new long[] {2, 3}, 0, 8191, 7, 7, 4000, 1);
    QuantizeModels.Run r = QuantizeModels.run(() -> QuantizeModels.embedding(vocab, dim),
        QuantizeOptions.defaults().withPerChannel(perChannel), QuantizeModels.feeds("ids", ids));
    float[] table = constant(QuantizeModels.embedding(vocab, dim), "input/W").toFloats();
    double[] q = constant(r.quantized(), "input/W_int8").toDoubles();
    float[] scales = constant(r.quantized(), "input/W_int8_scale").toFloats();
    double[] y = r.int8().get("y").toDoubles();
    int[] id = ids.toInts();
    for (int i = 0; i < id.length; i++) {
      float s = scales[perChannel ? id[i] : 0];
      for (int c = 0; c < dim; c++) {
        assertEquals(q[id[i] * dim + c] * s, y[i * dim + c], 1e-6);
        assertEquals(table[id[i] * dim + c], y[i * dim + c], s / 2 + 1e-6);
      }
    }
  }

  static Stream<Boolean> booleans() {
    return Stream.of(false, true);
  }

  @Test
  void recurrentMatMulInALoopBodyReadsTheOuterInt8Weight() {
    int n = 16;
    Tensor h0 = Tensor.ofFloats(new long[] {2, n}, QuantizeModels.random(14, 2 * n, 1.0));
    QuantizeModels.Run r = QuantizeModels.run(() -> QuantizeModels.recurrentLoop(n), QuantizeOptions.defaults(),
        QuantizeModels.feeds("h0", h0));
    assertEquals(1, r.quantized().count("com.microsoft.DynamicQuantizeMatMul"));
    double[] e = r.fp32().get("y").toDoubles(), a = r.int8().get("y").toDoubles();
    for (int i = 0; i < e.length; i++) assertEquals(e[i], a[i], 0.05, "element " + i);
  }

  private static void assertWithinBound(float[] a, int rows, float[] w, float[] wHat, Tensor fp32, Tensor int8) {
    double[] bound = ErrorBound.of(a, rows, K, w, wHat, N);
    double[] e = fp32.toDoubles(), q = int8.toDoubles();
    double worst = 0;
    for (int i = 0; i < e.length; i++) {
      assertTrue(Math.abs(e[i] - q[i]) <= bound[i], "element " + i + ": |" + e[i] + " - " + q[i] + "| > bound " + bound[i]);
      worst = Math.max(worst, Math.abs(e[i] - q[i]) / bound[i]);
    }
    assertTrue(worst > 0.01, "the bound is not vacuous: errors reach " + worst + " of it");
  }

  /** ŵ [K,N] of the weight constant {@code name} of the original model. */
  private static float[] dequantized(Graph g, String name) {
    double[] q = constant(g, name + "_int8").toDoubles();
    return ErrorBound.dequantize(q, constant(g, name + "_int8_scale").toFloats(), K, N);
  }

  /** The weight as the quantized op multiplies it: int8 values times the scales a constant factor was folded into. */
  private static float[] dequantizedScaled(Graph g, String name) {
    double[] q = constant(g, name + "_int8").toDoubles();
    return ErrorBound.dequantize(q, constant(g, name + "_int8_scale_scaled").toFloats(), K, N);
  }

  private static Tensor constant(Graph g, String name) {
    for (Value c : g.constants()) if (c.name().equals(name)) return c.constant();
    throw new AssertionError("no constant " + name + " in " + g.constants());
  }
}
