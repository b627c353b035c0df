package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.ir.Tensor;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.OnnxChecker;

/**
 * {@code quantize} and {@code convert --quantize int8} on a small NativeLstm2 LM (embedding, 2 LSTMs, softmax
 * output): every weight op becomes its int8 form, the two paths give the same model, and its probabilities stay close
 * to the fp32 model's.
 */
class QuantizeCommandTest {
  /** The test LM with a vocabulary large enough for its embedding to be quantized (4096 x 16: 64K elements). */
  private static final Fixture LM = LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false,
      new LstmFixtures.Sizes(4096, 16, 24, 2));
  private static final String OUT = TensorRef.parse(LstmFixtures.OUTPUT).onnxName();

  /**
   * int8 vs fp32, max over every position and word of the |log p| difference: measured 0.001 (per tensor); a uniform
   * distribution, near which this small random LM lies, is 0.37 away, all zeros infinitely.
   */
  private static final double LOG_PROB_TOLERANCE = 0.05;

  @TempDir
  Path dir;

  private Path convert(String name, String... extra) {
    FixtureWriter.Written w = LM.write(dir, GraphFormat.META);
    Path onnx = dir.resolve(name);
    List<String> args = new java.util.ArrayList<>(List.of("convert", "--graph", w.graph().toString(), "--checkpoint",
        w.checkpointPrefix().toString(), "--output", onnx.toString()));
    args.addAll(List.of(extra));
    CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.out() + r.err());
    return onnx;
  }

  @Test
  void quantizesEveryWeightOpOfTheLmAndReportsSizes() throws IOException {
    Path fp32 = convert("fp32.onnx");
    Path int8 = dir.resolve("int8.onnx");
    CliRunner.Run r = CliRunner.run("quantize", fp32.toString(), "--output", int8.toString());
    assertEquals(0, r.exit(), r.out() + r.err());
    Map<String, Integer> ops = LstmFixturesTest.histogram(int8);
    assertEquals(2, ops.getOrDefault("DynamicQuantizeLSTM", 0), ops.toString());
    assertEquals(0, ops.getOrDefault("LSTM", 0), ops.toString());
    assertEquals(1, ops.getOrDefault("DynamicQuantizeMatMul", 0), "the output projection: " + ops);
    assertEquals(0, ops.getOrDefault("MatMul", 0), ops.toString());
    assertEquals(0, ops.getOrDefault("Add", 0), "the output layer's bias moved into DynamicQuantizeMatMul: " + ops);
    assertEquals(1, ops.getOrDefault("Mul", 0), "the embedding's scale: " + ops);
    assertTrue(r.out().matches("(?s).*lstm0/rec/NativeLstm2/LSTM +LSTM +-> com.microsoft.DynamicQuantizeLSTM .*"), r.out());
    assertTrue(r.out().matches("(?s).*weights: [0-9,]+ -> [0-9,]+ bytes.*"), r.out());
    assertTrue(Files.size(int8) < Files.size(fp32) / 2, Files.size(int8) + " vs " + Files.size(fp32));
    assertNull(OnnxChecker.check(int8), "the official ONNX checker accepts the model");
    try (OnnxSession s = OnnxSession.open(int8, OnnxSession.Options.singleThread())) {
      assertTrue(s.metadata().get(returnn.onnx.quantize.Quantizer.METADATA_KEY).startsWith("int8 dynamic, per-tensor"), s.metadata().toString());
      assertTrue(s.metadata().containsKey("returnn_onnx.source_sha256"), "the fp32 model's provenance is kept");
    }
    assertClose(fp32, int8, LOG_PROB_TOLERANCE);
  }

  @Test
  void convertWithQuantizeGivesTheSameModelAsConvertThenQuantize() throws IOException {
    Path fp32 = convert("fp32.onnx");
    Path twoSteps = dir.resolve("two_steps.onnx");
    assertEquals(0, CliRunner.run("quantize", fp32.toString(), "--output", twoSteps.toString(), "--per-channel").exit());
    Path oneStep = convert("one_step.onnx", "--quantize", "int8", "--per-channel");
    assertArrayEquals(Files.readAllBytes(twoSteps), Files.readAllBytes(oneStep));
  }

  @Test
  void excludedOutputLayerStaysFp32() throws IOException {
    Path int8 = convert("int8.onnx", "--quantize", "int8", "--exclude", "output");
    Map<String, Integer> ops = LstmFixturesTest.histogram(int8);
    assertEquals(1, ops.getOrDefault("MatMul", 0), ops.toString());
    assertEquals(2, ops.getOrDefault("DynamicQuantizeLSTM", 0), ops.toString());
  }

  @Test
  void quantizationFlagsWithoutQuantizeAndUnknownModesAreErrors() {
    FixtureWriter.Written w = LM.write(dir, GraphFormat.META);
    String[] base = {"convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(), "--output",
        dir.resolve("x.onnx").toString()};
    CliRunner.Run r = CliRunner.run(concat(base, "--per-channel"));
    assertEquals(1, r.exit());
    assertTrue(r.err().contains("need --quantize int8"), r.err());
    r = CliRunner.run(concat(base, "--quantize", "int4"));
    assertEquals(1, r.exit());
    assertTrue(r.err().contains("--quantize int4 is not supported"), r.err());
    r = CliRunner.run("quantize", w.graph().toString(), "--output", dir.resolve("y.onnx").toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("error: " + w.graph()), r.err());
  }

  private static String[] concat(String[] a, String... b) {
    String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  /**
   * Both models on the same padded batch: log-probabilities within {@code tol} (natural log; the probabilities of a
   * 4096-word softmax are around 2.4e-4, so an absolute bound on them says nothing). The same bound is shown to
   * refuse a broken output: all zeros, uniform, and the int8 output shifted by one word.
   */
  private static void assertClose(Path fp32, Path int8, double tol) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    LM.randomFeeds(5, 9, 4, 1).forEach((k, v) -> feeds.put(TensorRef.parse(k).onnxName(), v));
    double[] e, a;
    try (OnnxSession s = OnnxSession.open(fp32, OnnxSession.Options.singleThread())) {
      e = s.run(feeds).get(OUT).toDoubles();
    }
    try (OnnxSession s = OnnxSession.open(int8, OnnxSession.Options.singleThread())) {
      a = s.run(feeds).get(OUT).toDoubles();
    }
    double max = maxLogDiff(e, a);
    System.out.println("max |log p_fp32 - log p_int8| = " + max);
    assertTrue(max < tol && max > 0, "max |log p_fp32 - log p_int8| = " + max);
    double[] zeros = new double[a.length];
    double[] uniform = new double[a.length];
    java.util.Arrays.fill(uniform, 1.0 / 4096);
    double[] shifted = new double[a.length];
    for (int i = 0; i < a.length; i++) shifted[i] = a[(i + 1) % a.length];
    for (double[] broken : List.of(zeros, uniform, shifted)) {
      double d = maxLogDiff(e, broken);
      assertTrue(d > tol, "a broken output must exceed the bound: " + d);
    }
  }

  private static double maxLogDiff(double[] e, double[] a) {
    return returnn.onnx.verify.Comparison.maxLogDiff(e, a);
  }
}
