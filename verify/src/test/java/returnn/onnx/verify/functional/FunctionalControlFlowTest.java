package returnn.onnx.verify.functional;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.GraphDef;
import returnn.onnx.ConvertOptions;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/**
 * Control flow v2 as TF 2.15 writes it (frozen {@code tf.function}s with {@code lower_control_flow=False}; made by
 * {@code scripts/tf2-functional/gen.py}, committed under {@code src/test/resources/functional/}): TensorFlow runs each
 * graph (TF Java), ONNX Runtime the conversion, fp32 to 1e-5, integers exactly; Loop/If counts asserted.
 */
class FunctionalControlFlowTest {
  static GraphDef graph(String name) {
    try (InputStream in = FunctionalControlFlowTest.class.getResourceAsStream("/functional/" + name + ".pb")) {
      return GraphDef.parseFrom(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Test
  void whileWithCounterAndAccumulator() {
    for (String name : List.of("while_counter", "while_counter_stateful")) {
      for (int trips : new int[] {0, 1, 5}) {
        OpParity.Result r = OpParity.check(graph(name), Map.of("x", OpParity.normal(1, 3, 4), "n",
            Tensor.ofInts(new long[0], trips)), List.of("Identity", "Identity_1"), OpParity.TOL, ConvertOptions.DEFAULT_OPSET);
        assertEquals(1, r.count("Loop"), r.converted().graph().opHistogram().toString());
      }
    }
  }
}
