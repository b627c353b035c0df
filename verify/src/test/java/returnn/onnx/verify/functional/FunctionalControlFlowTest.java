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

  private static OpParity.Result check(String name, Map<String, Tensor> feeds, String... outputs) {
    return OpParity.check(graph(name), feeds, List.of(outputs), OpParity.TOL, ConvertOptions.DEFAULT_OPSET);
  }

  @Test
  void whileWithMaximumIterationsFed() {
    for (int max : new int[] {0, 3, 200}) {
      OpParity.Result r = check("while_max_iterations", Map.of("x", OpParity.normal(2, 2, 3), "m",
          Tensor.ofInts(new long[0], max)), "Identity", "Identity_1");
      assertEquals(1, r.count("Loop"));
    }
  }

  /** Both branches taken (the sum of x decides), and the else branch's nested cond both ways. */
  @Test
  void ifWithTensorBranchesAndANestedIf() {
    for (String name : List.of("if_tensor", "if_tensor_stateful")) {
      for (float shift : new float[] {1.5f, -0.2f, -3f}) {
        Tensor x = OpParity.normal(3, 3, 4);
        float[] v = x.toFloats();
        for (int i = 0; i < v.length; i++) v[i] = v[i] * 0.3f + shift;
        OpParity.Result r = check(name, Map.of("x", Tensor.ofFloats(new long[] {3, 4}, v)), "Identity", "Identity_1");
        assertEquals(2, r.count("If"), r.converted().graph().opHistogram().toString());
      }
    }
  }

  /** tf.function calling tf.function twice: both PartitionedCalls inlined, no call left. */
  @Test
  void partitionedCallsAreInlined() {
    OpParity.Result r = check("partitioned_call", Map.of("x", OpParity.normal(4, 2, 4)), "Identity");
    assertEquals(2, r.count("Tanh"), r.converted().graph().opHistogram().toString());
  }

  @Test
  void dynamicRnnWithTensorLists() {
    OpParity.Result r = check("dynamic_rnn_lstm", Map.of("x", OpParity.normal(5, 3, 7, 5)), "Identity", "Identity_1", "Identity_2");
    System.out.println(r.converted().graph().opHistogram());
    System.out.println(r.converted().report().format());
  }

  @Test
  void dynamicRnnWithSequenceLengths() {
    OpParity.Result r = check("dynamic_rnn_lstm_seqlen", Map.of("x", OpParity.normal(6, 3, 7, 5), "seq_len",
        Tensor.ofInts(new long[] {3}, 4, 0, 6)), "Identity", "Identity_1", "Identity_2");
    System.out.println(r.converted().graph().opHistogram());
    System.out.println(r.converted().report().ruleNotes + " " + r.converted().report().warnings);
  }

  @Test
  void kerasLstm() {
    OpParity.Result r = check("keras_lstm", Map.of("x", OpParity.normal(7, 2, 6, 5)), "Identity");
    System.out.println(r.converted().graph().opHistogram());
  }
}
