package returnn.onnx.verify.lstm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import returnn.onnx.fixtures.lstm.LstmTwin;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.verify.Comparison;

/**
 * The TF twin (a TF1 while loop per RETURNN kernel) against the plain Java transcription of the kernels: both are
 * written from returnn/native_op.py independently, so agreement makes the twin a reference for the conversions. Masks
 * with holes, non-zero initial states, start/step 0/±1 and wider steps.
 */
class LstmTwinTest {
  static Stream<Arguments> cases() {
    List<Arguments> l = new ArrayList<>();
    for (String op : List.of("NativeLstm2", "LstmLowMem")) {
      for (int[] ss : new int[][] {{0, 1}, {0, -1}, {1, 2}, {2, -3}}) l.add(Arguments.of(op, ss[0], ss[1]));
    }
    l.add(Arguments.of("LstmGenericBase", 0, 1));
    return l.stream();
  }

  @ParameterizedTest(name = "{0} start {1} step {2}")
  @MethodSource("cases")
  void twinComputesTheKernelRecurrence(String op, int start, int step) {
    Map<String, Tensor> feeds = KernelFeeds.random(op, start, step, 11);
    List<String> outputs = KernelGraphs.outputs(op).stream().map(o -> o + ":0").toList();
    Map<String, Tensor> tf = TfReference.run(LstmTwin.of(KernelGraphs.bare(op)), null, feeds, outputs);
    List<Tensor> expected = KernelFeeds.expected(op, feeds);
    for (int i = 0; i < outputs.size(); i++) {
      Comparison c = Comparison.of(outputs.get(i), expected.get(i), tf.get(outputs.get(i)));
      assertTrue(c.ok(1e-5, expected.get(i).dtype()), c.toString());
    }
  }
}
