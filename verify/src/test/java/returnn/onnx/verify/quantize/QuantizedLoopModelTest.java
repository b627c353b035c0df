package returnn.onnx.verify.quantize;

import returnn.onnx.verify.Comparison;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.ir.Tensor;
import returnn.onnx.quantize.QuantizationReport;
import returnn.onnx.quantize.QuantizeOptions;
import returnn.onnx.quantize.Quantizer;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.TensorRef;

/**
 * A {@code --no-fuse} BlockLSTM LM quantized whole: its int8 embedding feeds the LSTM Loops' bodies directly. With the
 * embedding dequantized by {@code DequantizeLinear}, ONNX Runtime 1.23 aborted the process while creating the session;
 * now the model loads and stays close to fp32.
 */
class QuantizedLoopModelTest {
  @TempDir
  Path dir;

  @Test
  void int8EmbeddingReadInLoopBodiesLoadsAndMatchesFp32() {
    // 4096 x 16 = 64K elements: just large enough to be quantized.
    Fixture f = LstmFixtures.languageModel(VariableKind.TF1, LstmFixtures.Unit.BLOCK_LSTM, false,
        new LstmFixtures.Sizes(4096, 16, 24, 2));
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    ConvertOptions o = ConvertOptions.of(w.graph(), w.checkpointPrefix(), List.of(LstmFixtures.OUTPUT)).withFuse(false);
    Path fp32 = dir.resolve("fp32.onnx"), int8 = dir.resolve("int8.onnx");
    Converter.convert(o).write(fp32);
    Converter.Result r = Converter.convert(o);
    assertEquals(2, r.graph().count("Loop"), r.graph().opHistogram().toString());
    QuantizationReport rep = Quantizer.quantize(r.graph(), QuantizeOptions.defaults(), r.opset());
    assertTrue(rep.format().contains("Gather int8"), rep.format());
    r.write(int8);

    Map<String, Tensor> feeds = new LinkedHashMap<>();
    f.randomFeeds(11, 7, 3).forEach((k, v) -> feeds.put(TensorRef.parse(k).onnxName(), v));
    String out = TensorRef.parse(LstmFixtures.OUTPUT).onnxName();
    double[] e, a;
    try (OnnxSession s = OnnxSession.open(fp32, OnnxSession.Options.singleThread())) {
      e = s.run(feeds, List.of(out)).get(out).toDoubles();
    }
    try (OnnxSession s = OnnxSession.open(int8, OnnxSession.Options.singleThread())) {
      a = s.run(feeds, List.of(out)).get(out).toDoubles();
    }
    // Log-probabilities (the softmax values of a 4096-word vocabulary are ~2.4e-4: an absolute bound of 0.02 passes
    // an all-zero output). The bound refuses broken outputs: all zeros, uniform, and the int8 output shifted by one.
    double tol = 0.05;
    double d = Comparison.maxLogDiff(e, a);
    assertTrue(d > 0 && d < tol, "max |log p_fp32 - log p_int8| = " + d);
    double[] uniform = new double[a.length];
    java.util.Arrays.fill(uniform, 1.0 / 4096);
    double[] shifted = new double[a.length];
    for (int i = 0; i < a.length; i++) shifted[i] = a[(i + 1) % a.length];
    for (double[] broken : List.of(new double[a.length], uniform, shifted)) {
      assertTrue(Comparison.maxLogDiff(e, broken) > tol, "a broken output exceeds the bound: " + Comparison.maxLogDiff(e, broken));
    }
  }
}
