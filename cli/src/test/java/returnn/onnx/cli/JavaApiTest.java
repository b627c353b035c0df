package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ConversionException;
import returnn.onnx.api.ConvertedModel;
import returnn.onnx.api.Int8;
import returnn.onnx.api.Report;
import returnn.onnx.api.ReturnnOnnx;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;

/**
 * The public Java API ({@code returnn.onnx.api}) and the {@code convert} command give the same model, byte for byte,
 * for the same settings (quantized, with state, with an opset and output named); its result cannot be changed.
 */
class JavaApiTest {
  private static final Fixture LM = LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false,
      new LstmFixtures.Sizes(4096, 16, 24, 2));

  @TempDir
  Path dir;

  private byte[] cli(FixtureWriter.Written w, String name, String... extra) throws IOException {
    Path onnx = dir.resolve(name);
    List<String> args = new ArrayList<>(List.of("convert", "--graph", w.graph().toString(), "--checkpoint",
        w.checkpointPrefix().toString(), "--output", onnx.toString()));
    args.addAll(List.of(extra));
    CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.out() + r.err());
    return Files.readAllBytes(onnx);
  }

  @Test
  void quantizedModelIsByteForByteWhatConvertWrites() throws IOException {
    FixtureWriter.Written w = LM.write(dir, GraphFormat.META);
    byte[] fromCli = cli(w, "cli.onnx", "--quantize", "int8", "--per-channel", "--exclude", "output");
    ConvertedModel m = ReturnnOnnx.convert(w.graph()).checkpoint(w.checkpointPrefix())
        .quantize(Int8.perChannel().withExclude(List.of("output"))).run();
    assertArrayEquals(fromCli, m.bytes());
    Path written = m.write(dir.resolve("api.onnx"));
    assertArrayEquals(fromCli, Files.readAllBytes(written));
    assertTrue(m.metadata().get("returnn_onnx.quantization").startsWith("int8 dynamic, per-channel"), m.metadata().toString());
    Report r = m.report();
    assertTrue(r.quantization().isPresent());
    assertFalse(r.quantization().get().quantized().isEmpty(), r.text());
    assertTrue(r.text().contains("com.microsoft.DynamicQuantizeLSTM"), r.text());
    // The fp32 model differs: quantization did something.
    byte[] fp32 = cli(w, "fp32.onnx");
    assertFalse(java.util.Arrays.equals(fp32, fromCli));
    assertArrayEquals(fp32, ReturnnOnnx.convert(w.graph()).checkpoint(w.checkpointPrefix()).run().bytes());
  }

  @Test
  void stateModelWithOptionsIsByteForByteWhatConvertWrites() throws IOException {
    FixtureWriter.Written w = LM.write(dir, GraphFormat.META);
    byte[] fromCli = cli(w, "cli.onnx", "--state", "--state-defaults", "--opset", "18", "--ort-version", "1.17",
        "--log-softmax-output", "--outputs", LstmFixtures.OUTPUT);
    ConvertedModel m = ReturnnOnnx.convert(w.graph()).checkpoint(w.checkpointPrefix()).state(true).stateDefaults(true).opset(18)
        .ortVersion("1.17").logSoftmaxOutput(true).outputs(LstmFixtures.OUTPUT).run();
    assertArrayEquals(fromCli, m.bytes());
    assertEquals(18, m.opset());
    assertTrue(m.metadata().containsKey("returnn_onnx.state"), m.metadata().toString());
    assertTrue(m.inputNames().size() > 2, "state inputs: " + m.inputNames());
  }

  @Test
  void resultIsImmutable() throws IOException {
    FixtureWriter.Written w = LM.write(dir, GraphFormat.META);
    ConvertedModel m = ReturnnOnnx.convert(w.graph()).checkpoint(w.checkpointPrefix()).run();
    byte[] before = m.bytes();
    assertThrows(UnsupportedOperationException.class, () -> m.metadata().put("x", "y"));
    assertThrows(UnsupportedOperationException.class, () -> m.report().onnxOps().put("LSTM", 0));
    assertThrows(UnsupportedOperationException.class, () -> m.report().fusions().clear());
    assertThrows(UnsupportedOperationException.class, () -> m.inputNames().clear());
    m.bytes()[0] ^= 1;
    assertArrayEquals(before, m.bytes());
    assertEquals(2, m.report().onnxOps().get("LSTM"), m.report().text());
    assertTrue(m.report().quantization().isEmpty());
  }

  @Test
  void badSettingsAndInputAreConversionErrors() {
    assertThrows(ConversionException.class, () -> ReturnnOnnx.convert(dir.resolve("graph.meta")).opset(12).run());
    assertThrows(ConversionException.class, () -> ReturnnOnnx.convert(dir.resolve("graph.meta")).stateDefaults(true).run());
    assertThrows(ConversionException.class, () -> ReturnnOnnx.convert(dir.resolve("graph.meta")).ortVersion("2.0"));
    ConversionException e = assertThrows(ConversionException.class, () -> ReturnnOnnx.convert(dir.resolve("missing.meta")).run());
    assertTrue(e.getMessage().contains("missing.meta"), e.getMessage());
  }
}
