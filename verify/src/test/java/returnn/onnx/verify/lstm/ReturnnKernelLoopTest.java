package returnn.onnx.verify.lstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import returnn.onnx.ConversionException;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfProtos;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Comparison;
import returnn.onnx.verify.OpParity;

/**
 * The Loop handlers (ReturnnHandlers) on kernels whose every input is computed at run time (weights, mask, start,
 * step): nothing can fuse, the rule says why, and the ONNX Loop reproduces all outputs of the plain Java recurrence,
 * including masks with holes, wider steps and the frames a step skips.
 */
class ReturnnKernelLoopTest {
  static Stream<Arguments> cases() {
    return LstmTwinTest.cases();
  }

  @ParameterizedTest(name = "{0} start {1} step {2}")
  @MethodSource("cases")
  void loopReproducesTheRecurrence(String op, int start, int step) {
    Map<String, Tensor> feeds = KernelFeeds.random(op, start, step, 23);
    List<String> outputs = KernelGraphs.outputs(op);
    Converter.Result conv = OpParity.convert(KernelGraphs.bare(op), outputs, ConvertOptions.DEFAULT_OPSET);
    assertEquals(1, conv.graph().count("Loop"));
    assertEquals(0, conv.graph().count("LSTM"));
    assertTrue(conv.report().ruleNotes.stream().anyMatch(n -> n.contains("'lstm' (" + op + ")")), conv.report().ruleNotes.toString());
    Map<String, Tensor> ort = OpParity.runOnnx(conv, feeds);
    List<Tensor> expected = KernelFeeds.expected(op, feeds);
    for (int i = 0; i < outputs.size(); i++) {
      Comparison c = Comparison.of(outputs.get(i), expected.get(i), ort.get(TensorRef.parse(outputs.get(i)).onnxName()));
      assertTrue(c.ok(1e-5, expected.get(i).dtype()), c.toString());
    }
  }

  @Test
  void malformedKernelsAreClearErrorsNamingTheNode() {
    GraphDefBuilder b = new GraphDefBuilder();
    String x = b.placeholder("x", DType.FLOAT, -1, -1, 16).name();
    b.op("NativeLstm2", "lstm", x, x).outType(DType.FLOAT);
    b.op("Identity", "y", "lstm").attr("T", DType.FLOAT);
    ConversionException e = assertThrows(ConversionException.class, () -> OpParity.convert(b.build(), List.of("y"), 17));
    assertTrue(e.getMessage().contains("node 'lstm' (NativeLstm2): needs 7 inputs (x, w, y0, c0, i, start, step), got 2"),
        e.getMessage());

    GraphDef.Builder g = KernelGraphs.bare("NativeLstm2").toBuilder()
        .addNode(TfProtos.constNode("zero", Tensor.ofInts(new long[0], 0)));
    for (NodeDef.Builder n : g.getNodeBuilderList()) {
      if (n.getName().equals("lstm")) n.setInput(6, "zero");
    }
    e = assertThrows(ConversionException.class, () -> OpParity.convert(g.build(), List.of("y"), 17));
    assertTrue(e.getMessage().contains("node 'lstm' (NativeLstm2): step is 0"), e.getMessage());
  }

  @ParameterizedTest(name = "opset {0}")
  @ValueSource(ints = {13, 18, 23})
  void loopWorksAcrossOpsets(int opset) {
    Map<String, Tensor> feeds = KernelFeeds.random("NativeLstm2", 0, -1, 5);
    Converter.Result conv = OpParity.convert(KernelGraphs.bare("NativeLstm2"), List.of("y", "d"), opset);
    Map<String, Tensor> ort = OpParity.runOnnx(conv, feeds);
    List<Tensor> expected = KernelFeeds.expected("NativeLstm2", feeds);
    assertTrue(Comparison.of("y", expected.get(0), ort.get("y")).ok(1e-5, expected.get(0).dtype()));
    assertTrue(Comparison.of("d", expected.get(3), ort.get("d")).ok(1e-5, expected.get(3).dtype()));
  }
}
