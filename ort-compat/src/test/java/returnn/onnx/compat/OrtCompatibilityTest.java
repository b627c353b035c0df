package returnn.onnx.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.fixtures.lstm.LstmTwin;
import returnn.onnx.fixtures.transformer.TransformerFixtures;
import returnn.onnx.ir.Tensor;
import returnn.onnx.quantize.QuantizeOptions;
import returnn.onnx.quantize.Quantizer;
import returnn.onnx.reference.TfReference;
import returnn.onnx.rewrite.state.StateMapping;
import returnn.onnx.runtime.Npy;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.runtime.StreamingSession;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Comparison;

/**
 * Every model kind the converter makes, converted at the default opset, loads and computes TensorFlow's result in the
 * ONNX Runtime this JVM runs: the project's version in the default surefire run, 1.15.1 and 1.20.0 in the module's
 * other runs (RASR's images link 1.15.1, 1.20.1 and 1.24.x). fp32 models are checked against TensorFlow at 1e-5; int8
 * models against the project runtime's own output of the same model (written by the default run, which goes first)
 * and, loosely, against TensorFlow. Each run prints the largest differences per model.
 */
class OrtCompatibilityTest {
  static final double TOL = 1e-5;
  static final Path OUTPUTS = Path.of("target", "ort-outputs");

  @TempDir
  Path dir;

  /** The version of the ONNX Runtime jar on the classpath (from its file name). */
  static String loadedVersion() {
    String jar = ai.onnxruntime.OrtEnvironment.class.getProtectionDomain().getCodeSource().getLocation().getPath();
    String file = jar.substring(jar.lastIndexOf('/') + 1);
    return file.replaceFirst("^onnxruntime-", "").replaceFirst("\\.jar$", "");
  }

  @Test
  void runsTheOnnxRuntimeThisExecutionIsFor() {
    assertEquals(System.getProperty("ort.expected", loadedVersion()), loadedVersion());
  }

  /** What one model needs. */
  record Case(Supplier<Fixture> fixture, boolean state, boolean twin, boolean int8, int[] lengths, String fusedOp, int fused) {}

  static Case of(String name) {
    int[] lens = {7, 4, 1};
    return switch (name) {
      case "transformer_block" -> new Case(() -> Fixtures.attentionBlock(VariableKind.RESOURCE), false, false, false, lens,
          "com.microsoft.MultiHeadAttention", 1);
      case "transformer_lm" -> new Case(() -> TransformerFixtures.causalLm(VariableKind.RESOURCE, 2, false), false, false, false,
          lens, "com.microsoft.MultiHeadAttention", 2);
      case "transformer_lm_state" -> new Case(() -> TransformerFixtures.causalLm(VariableKind.RESOURCE, 2, false), true, false,
          false, lens, "com.microsoft.MultiHeadAttention", 2);
      case "transformer_lm_placeholders" -> new Case(() -> TransformerFixtures.causalLm(VariableKind.RESOURCE, 1, true), true,
          false, false, lens, "com.microsoft.MultiHeadAttention", 1);
      case "conformer" -> new Case(() -> TransformerFixtures.conformer(VariableKind.RESOURCE, TransformerFixtures.smallConformer(), 2),
          false, false, false, new int[] {16, 11, 5}, "com.microsoft.MultiHeadAttention", 2);
      case "conformer_int8" -> new Case(() -> TransformerFixtures.conformer(VariableKind.RESOURCE, TransformerFixtures.smallConformer(), 2),
          false, false, true, new int[] {16, 11, 5}, "com.microsoft.DynamicQuantizeMatMul", -1);
      case "lstm_lm_state" -> new Case(() -> LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false,
          LstmFixtures.Sizes.TEST), true, true, false, lens, "LSTM", 2);
      case "lstm_lm_int8" -> new Case(() -> LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false,
          LstmFixtures.Sizes.TEST), true, true, true, lens, "com.microsoft.DynamicQuantizeLSTM", 2);
      case "blstm" -> new Case(() -> LstmFixtures.biLstm(VariableKind.RESOURCE), false, true, false, lens, "LSTM", 2);
      default -> throw new IllegalArgumentException(name);
    };
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"transformer_block", "transformer_lm", "transformer_lm_state", "transformer_lm_placeholders",
      "conformer", "conformer_int8", "lstm_lm_state", "lstm_lm_int8", "blstm"})
  void loadsAndMatchesTensorFlow(String name) throws Exception {
    Case c = of(name);
    Fixture f = c.fixture().get();
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    List<String> outputs = List.of(f.outputs().get(0));
    if (name.startsWith("conformer")) outputs = f.outputs();
    Converter.Result conv = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), outputs).withState(c.state(), false));
    if (c.int8()) Quantizer.quantize(conv.graph(), QuantizeOptions.defaults(), conv.opset());
    if (c.fused() < 0) assertTrue(conv.graph().count(c.fusedOp()) > 0, conv.graph().opHistogram().toString());
    else assertEquals(c.fused(), conv.graph().count(c.fusedOp()), conv.graph().opHistogram().toString());
    assertEquals(0, conv.graph().nodes().stream().filter(n -> n.attr("unidirectional") != null).count(),
        "no MultiHeadAttention 'unidirectional' attribute (ONNX Runtime 1.15 rejects it)");
    Map<String, Tensor> tfFeeds = f.randomFeeds(3, c.lengths());
    tfFeeds.keySet().removeIf(k -> f.inputs().stream().anyMatch(i -> i.tensorName().equals(k) && i.kind() == returnn.onnx.fixtures.Input.Kind.STATE));
    StateMapping states = conv.metadata().containsKey(StateMapping.METADATA_KEY)
        ? StateMapping.fromJson(conv.metadata().get(StateMapping.METADATA_KEY)) : null;
    Map<String, Tensor> ortFeeds = new LinkedHashMap<>();
    if (states != null) {
      for (StateMapping.Entry e : states.entries()) {
        Tensor zeros = StreamingSession.zeros(e, c.lengths().length);
        ortFeeds.put(e.input(), zeros);
        if (e.origin() == StateMapping.Origin.PLACEHOLDER) tfFeeds.put(e.input() + ":0", zeros);
      }
      if (states.prefixLength() != null) {
        ortFeeds.put(states.prefixLength(), Tensor.ofInts(new long[] {c.lengths().length}, new int[c.lengths().length]));
      }
    }
    Map<String, Tensor> onnx;
    try (OnnxSession s = OnnxSession.open(conv.toBytes(), OnnxSession.Options.singleThread())) {
      tfFeeds.forEach((k, v) -> {
        String n = TensorRef.parse(k).onnxName();
        if (s.inputNames().contains(n)) ortFeeds.put(n, v);
      });
      assertEquals(new java.util.TreeSet<>(s.inputNames()), new java.util.TreeSet<>(ortFeeds.keySet()), "every input is listed and fed");
      onnx = s.run(ortFeeds);
    }
    Map<String, Tensor> tf = TfReference.run(c.twin() ? LstmTwin.of(f.graph()) : f.graph(), w.checkpointPrefix(), tfFeeds, outputs);
    String version = loadedVersion();
    Path mine = OUTPUTS.resolve(version).resolve(name);
    Path project = OUTPUTS.resolve(System.getProperty("ort.project", "1.23.2")).resolve(name);
    StringBuilder sb = new StringBuilder();
    for (String o : outputs) {
      String n = TensorRef.parse(o).onnxName();
      Tensor got = onnx.get(n);
      Npy.write(mine.resolve(n.replace('/', '_') + ".npy"), got);
      Comparison vsTf = Comparison.of(n, tf.get(o), got);
      sb.append("ORT ").append(version).append(' ').append(name).append(" vs TF: ").append(vsTf);
      Path ref = project.resolve(n.replace('/', '_') + ".npy");
      Comparison vsProject = null;
      if (!version.equals(project.getFileName().toString()) && Files.exists(ref)) {
        vsProject = Comparison.of(n, Npy.read(ref), got);
        sb.append("; vs ORT ").append(project.getParent().getFileName()).append(": ").append(vsProject);
      }
      System.out.println(sb);
      if (c.int8()) {
        if (vsProject != null) assertTrue(vsProject.ok(1e-4, tf.get(o).dtype()), sb.toString());
        assertTrue(vsTf.ok(0.05, tf.get(o).dtype()), sb.toString());
      } else {
        assertTrue(vsTf.ok(TOL, tf.get(o).dtype()), sb.toString());
      }
      sb.setLength(0);
    }
  }

  /**
   * {@code --ort-version 1.16} keeps MultiHeadAttention's {@code unidirectional} (faster) and adds no q/k/v bias: right
   * from 1.16 on, rejected by ONNX Runtime 1.15.
   */
  @Test
  void ortVersion116KeepsUnidirectional() {
    Fixture f = TransformerFixtures.causalLm(VariableKind.RESOURCE, 2, false);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Converter.Result conv = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), List.of(f.outputs().get(0))).withOrtMinor(16));
    assertEquals(2, conv.graph().nodes().stream().filter(n -> n.intAttr("unidirectional", 0) == 1).count());
    Map<String, Tensor> tfFeeds = f.randomFeeds(3, 7, 4, 1);
    Map<String, Tensor> in = Map.of(Fixtures.DATA, tfFeeds.get(Fixtures.DATA + ":0"));
    if (loadedVersion().startsWith("1.15.")) {
      IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
          () -> OnnxSession.open(conv.toBytes(), OnnxSession.Options.singleThread()).close());
      assertTrue(e.getMessage().contains("unidirectional"), e.getMessage());
      return;
    }
    Tensor tf = TfReference.run(f.graph(), w.checkpointPrefix(), tfFeeds, List.of(f.outputs().get(0))).get(f.outputs().get(0));
    try (OnnxSession s = OnnxSession.open(conv.toBytes(), OnnxSession.Options.singleThread())) {
      Comparison cmp = Comparison.of("output", tf, s.run(in).get(TensorRef.parse(f.outputs().get(0)).onnxName()));
      assertTrue(cmp.ok(TOL, tf.dtype()), cmp.toString());
    }
  }

  /** What a carried state needs: the ONNX Runtime of this run continues a state chunk by chunk. */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"lstm_lm_state", "transformer_lm_state"})
  void chunksWithCarriedStatesEqualTheFullRun(String name) {
    Case c = of(name);
    Fixture f = c.fixture().get();
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Converter.Result conv = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), List.of(f.outputs().get(0))).withState(true, false));
    Path onnx = dir.resolve(name + ".onnx");
    conv.write(onnx);
    int[] lens = {7, 7, 7};
    Map<String, Tensor> tfFeeds = f.randomFeeds(4, lens);
    Map<String, Tensor> tf = TfReference.run(c.twin() ? LstmTwin.of(f.graph()) : f.graph(), w.checkpointPrefix(), tfFeeds,
        List.of(f.outputs().get(0)));
    Tensor data = tfFeeds.get(Fixtures.DATA + ":0");
    List<Tensor> outs = new ArrayList<>();
    try (StreamingSession s = StreamingSession.open(onnx, OnnxSession.Options.singleThread())) {
      for (int t0 = 0; t0 < 7; t0 += 3) {
        int t1 = Math.min(7, t0 + 3);
        Map<String, Tensor> chunk = new LinkedHashMap<>();
        chunk.put(Fixtures.DATA, returnn.onnx.runtime.TimeChunks.slice(data, t0, t1));
        if (s.dataInputs().contains(Fixtures.DATA_LENGTHS)) chunk.put(Fixtures.DATA_LENGTHS, returnn.onnx.runtime.TimeChunks.lengths(lens, t0, t1));
        outs.add(s.step(chunk).get(TensorRef.parse(f.outputs().get(0)).onnxName()));
      }
    }
    Comparison cmp = Comparison.of(name, tf.get(f.outputs().get(0)), returnn.onnx.runtime.TimeChunks.concat(outs));
    System.out.println("ORT " + loadedVersion() + " " + name + " chunks of 3 vs TF: " + cmp);
    assertTrue(cmp.ok(TOL, tf.get(f.outputs().get(0)).dtype()), cmp.toString());
  }
}
