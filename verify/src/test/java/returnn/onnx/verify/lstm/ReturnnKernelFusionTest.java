package returnn.onnx.verify.lstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.lstm.LstmTwin;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Comparison;
import returnn.onnx.verify.lstm.KernelGraphs.Variant;

/**
 * One RETURNN rec layer per kernel and variant, converted with fusion: where ONNX LSTM means the same, exactly one
 * LSTM and no Loop; where it does not (gate activations consumed, a mask not made from lengths, a backward LstmLowMem
 * from a non-zero h), the rule declines with its reason and the kernel becomes a Loop. Either way every output matches
 * the TF twin on a padded batch with a zero-length sequence, to 1e-5.
 */
class ReturnnKernelFusionTest {
  @TempDir
  Path dir;

  @ParameterizedTest(name = "{0} step {1} {2}")
  @CsvSource({
      "NativeLstm2, 1, PLAIN, 1, ",
      "NativeLstm2, -1, PLAIN, 1, ",
      "NativeLstm2, 1, STATE_IO, 1, ",
      "NativeLstm2, -1, STATE_IO, 1, ",
      "NativeLstm2, 1, PROJECTION_SHARED, 1, ",
      "NativeLstm2, 1, GATES_FETCHED, 0, gate activations",
      "NativeLstm2, -1, MASK_PLACEHOLDER, 0, the mask is not",
      "LstmLowMem, 1, PLAIN, 1, ",
      "LstmLowMem, -1, PLAIN, 1, ",
      "LstmLowMem, 1, STATE_IO, 1, ",
      "LstmLowMem, -1, STATE_IO, 0, non-zero y0",
      "LstmGenericBase, 1, PLAIN, 1, ",
      "LstmGenericBase, 1, STATE_IO, 1, "})
  void fusesWhereExactAndMatchesTheTwin(String op, int step, Variant variant, int lstms, String declineReason) {
    Fixture f = new KernelGraphs.Layer().build(op, step, variant);
    Converter.Result conv = convertAndCompare(f, ConvertOptions.DEFAULT_OPSET,
        variant == Variant.MASK_PLACEHOLDER ? Map.of("mask:0", mask(6, 3)) : Map.of());
    assertEquals(lstms, conv.graph().count("LSTM"), conv.report().format(true));
    assertEquals(1 - lstms, conv.graph().count("Loop"), conv.report().format(true));
    if (declineReason != null) {
      assertTrue(conv.report().ruleNotes.stream().anyMatch(n -> n.contains(declineReason)), conv.report().ruleNotes.toString());
    } else {
      assertTrue(conv.report().fusions.stream().anyMatch(n -> n.contains(op)), conv.report().fusions.toString());
    }
    if (variant == Variant.STATE_IO && op.equals("NativeLstm2")) {
      // RETURNN's final-h gathers became Y_h (both directions: Max of the last frame forward, Min backward).
      assertEquals(0, conv.graph().count("GatherND"), conv.report().fusions.toString());
    }
  }

  @Test
  void bidirectionalPairKeepsEachDirectionsStates() {
    Fixture f = new KernelGraphs.Layer().pairWithStates();
    Converter.Result conv = convertAndCompare(f, 17, Map.of());
    assertEquals(1, conv.graph().count("LSTM"), conv.report().format(true));
    assertEquals("bidirectional", conv.graph().nodes().stream().filter(n -> n.isOnnx("LSTM")).findFirst().orElseThrow()
        .stringAttr("direction", ""));
  }

  @ParameterizedTest(name = "opset {0}")
  @ValueSource(ints = {13, 23})
  void fusedLayerWorksAcrossOpsets(int opset) {
    Fixture f = new KernelGraphs.Layer().build("NativeLstm2", -1, Variant.STATE_IO);
    assertEquals(1, convertAndCompare(f, opset, Map.of()).graph().count("LSTM"));
  }

  /** Converts {@code f} with fusion at {@code opset} and checks every output against the TF twin. */
  private Converter.Result convertAndCompare(Fixture f, int opset, Map<String, Tensor> extraFeeds) {
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Converter.Result conv = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withOpset(opset));
    Map<String, Tensor> feeds = new LinkedHashMap<>(f.randomFeeds(9, 6, 3, 0));
    feeds.putAll(extraFeeds);
    Map<String, Tensor> expected = TfReference.run(LstmTwin.of(f.graph()), w.checkpointPrefix(), feeds, f.outputs());
    try (OnnxSession s = OnnxSession.open(conv.toBytes(), OnnxSession.Options.defaults())) {
      Map<String, Tensor> in = new LinkedHashMap<>();
      feeds.forEach((k, v) -> {
        if (s.inputNames().contains(TensorRef.parse(k).onnxName())) in.put(TensorRef.parse(k).onnxName(), v);
      });
      Map<String, Tensor> actual = s.run(in);
      for (String out : f.outputs()) {
        String name = TensorRef.parse(out).onnxName();
        Comparison c = Comparison.of(name, expected.get(out), actual.get(name));
        assertTrue(c.ok(1e-5, expected.get(out).dtype()), c.toString());
      }
    }
    return conv;
  }

  /** A [T,B] float mask with holes: what no length tensor can describe. */
  private static Tensor mask(int time, int batch) {
    float[] v = new float[time * batch];
    for (int t = 0; t < time; t++) for (int b = 0; b < batch; b++) v[t * batch + b] = (t + b) % 3 == 1 ? 0 : 1;
    return Tensor.ofFloats(new long[] {time, batch}, v);
  }
}
