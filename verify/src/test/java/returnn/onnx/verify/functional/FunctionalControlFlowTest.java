package returnn.onnx.verify.functional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.GraphDef;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.verify.Comparison;
import returnn.onnx.verify.OnnxChecker;
import returnn.onnx.verify.OpParity;

/**
 * Control flow v2 as TF 2.15 writes it: frozen {@code tf.function}s ({@code convert_variables_to_constants_v2} with
 * {@code lower_control_flow=False}, so While/If stay functional), made by {@code scripts/tf2-functional/gen.py} and
 * committed under {@code src/test/resources/functional/}. TensorFlow (TF Java) runs each graph, ONNX Runtime the
 * conversion: fp32 to 1e-5, integers exactly; Loop/If/LSTM counts asserted, the ONNX checker passes, and every float
 * output compared is far from zero (so a model computing zeros cannot pass).
 */
class FunctionalControlFlowTest {
  @TempDir
  Path dir;

  static GraphDef graph(String name) {
    try (InputStream in = FunctionalControlFlowTest.class.getResourceAsStream("/functional/" + name + ".pb")) {
      return GraphDef.parseFrom(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The converted model and its TF and ONNX Runtime outputs. */
  private record Run(Converter.Result converted, Map<String, Tensor> tf, Map<String, Comparison> comparisons) {
    int count(String op) {
      return converted.graph().count(op);
    }

    String ops() {
      return converted.graph().opHistogram().toString();
    }
  }

  /** Converts (with or without fusion, at an opset), runs both, asserts parity and the ONNX checker. */
  private Run run(String name, Map<String, Tensor> feeds, boolean fuse, int opset, String... outputs) throws IOException {
    Path pb = dir.resolve(name + ".pb");
    Files.write(pb, graph(name).toByteArray());
    Converter.Result conv = Converter.convert(ConvertOptions.of(pb, null, List.of(outputs)).withOpset(opset).withFuse(fuse));
    assertEquals(0, conv.graph().allNodes().stream().filter(n -> n.domain().equals(Node.TF)).count(), "no TF op left");
    Map<String, Tensor> tf = TfReference.run(graph(name), null, feeds, List.of(outputs));
    Map<String, Tensor> ort = OpParity.runOnnx(conv, feeds);
    Map<String, Comparison> cmp = new LinkedHashMap<>();
    List<String> bad = new ArrayList<>();
    for (String o : outputs) {
      Comparison c = Comparison.of(o, tf.get(o), ort.get(o));
      cmp.put(o, c);
      if (!c.ok(OpParity.TOL, tf.get(o).dtype())) bad.add(c.toString());
    }
    assertTrue(bad.isEmpty(), name + " (fuse " + fuse + ", opset " + opset + "): " + bad + "\n" + conv.graph().opHistogram());
    if (opset <= 17) {
      Path onnx = dir.resolve(name + fuse + opset + ".onnx");
      conv.write(onnx);
      assertNull(OnnxChecker.check(onnx));
    }
    return new Run(conv, tf, cmp);
  }

  private Run run(String name, Map<String, Tensor> feeds, String... outputs) throws IOException {
    return run(name, feeds, true, ConvertOptions.DEFAULT_OPSET, outputs);
  }

  /** Every float output of TF is far from zero: an all-zero model would miss the 1e-5 bound by far. */
  private static void assertNotZero(Run r, String... outputs) {
    for (String o : outputs) {
      float[] v = r.tf().get(o).toFloats();
      double max = 0;
      for (float x : v) max = Math.max(max, Math.abs(x));
      assertTrue(max > 0.05, o + " is near zero in TF (max |x| " + max + "): the comparison would not catch a zero model");
    }
  }

  private static Node loop(Run r) {
    return r.converted().graph().nodes().stream().filter(n -> n.isOnnx("Loop")).findFirst().orElseThrow();
  }

  @Test
  void whileWithCounterAndAccumulator() throws IOException {
    for (String name : List.of("while_counter", "while_counter_stateful")) {
      for (int trips : new int[] {0, 1, 5}) {
        Run r = run(name, Map.of("x", OpParity.normal(1, 3, 4), "n", Tensor.ofInts(new long[0], trips)), "Identity", "Identity_1");
        assertEquals(trips, r.tf().get("Identity_1").toLongs()[0]);
        if (trips > 1) assertNotZero(r, "Identity"); // the first step adds tanh(x * 0) = 0
        assertEquals(1, r.count("Loop"), r.ops());
        // Loop-carried: while_v2's loop counter, i and acc; n, x and maximum_iterations (-1) are loop constants.
        assertEquals(2 + 3, loop(r).inputs().size(), "M, cond, counter, i, acc: " + loop(r).inputs());
        assertNull(loop(r).input(0), "no maximum_iterations given: no trip count");
      }
    }
  }

  @Test
  void whileWithMaximumIterationsFedBecomesTheTripCount() throws IOException {
    for (int max : new int[] {0, 3, 200, -2}) {
      Run r = run("while_max_iterations", Map.of("x", OpParity.normal(2, 2, 3), "m", Tensor.ofInts(new long[0], max)),
          "Identity", "Identity_1");
      assertEquals(Math.max(0, Math.min(max, 100)), r.tf().get("Identity_1").toLongs()[0]);
      assertNotZero(r, "Identity");
      assertEquals(1, r.count("Loop"), r.ops());
      assertNotNull(loop(r).input(0), "maximum_iterations is the Loop's trip count");
    }
  }

  /** A while inside a while body next to a cond (taken both ways over the iterations): Loop ⊃ {Loop, If}. */
  @Test
  void nestedWhileAndIfInAWhileBody() throws IOException {
    Run r = run("while_nested", Map.of("x", OpParity.normal(10, 2, 3)), "Identity");
    assertNotZero(r, "Identity");
    assertEquals(2, r.count("Loop"), r.ops());
    assertEquals(1, r.count("If"), r.ops());
    Graph body = ((returnn.onnx.ir.Attr.GraphVal) loop(r).attr("body")).value();
    assertEquals(1, body.nodes().stream().filter(n -> n.isOnnx("Loop")).count(), "the inner loop is in the outer body");
    assertEquals(1, body.nodes().stream().filter(n -> n.isOnnx("If")).count(), "the cond is in the outer body");
  }

  /** Both branches taken (the sum of x decides), the else branch's nested cond both ways; If and StatelessIf. */
  @Test
  void ifWithTensorBranchesAndANestedIf() throws IOException {
    for (String name : List.of("if_tensor", "if_tensor_stateful")) {
      for (float shift : new float[] {1.5f, -0.2f, -3f}) {
        float[] v = OpParity.normal(3, 3, 4).toFloats();
        for (int i = 0; i < v.length; i++) v[i] = v[i] * 0.3f + shift;
        Run r = run(name, Map.of("x", Tensor.ofFloats(new long[] {3, 4}, v)), "Identity", "Identity_1");
        assertNotZero(r, "Identity", "Identity_1");
        assertEquals(2, r.count("If"), r.ops());
        Node outer = r.converted().graph().nodes().stream().filter(n -> n.isOnnx("If")).findFirst().orElseThrow();
        Graph orElse = ((returnn.onnx.ir.Attr.GraphVal) outer.attr("else_branch")).value();
        assertEquals(1, orElse.nodes().stream().filter(n -> n.isOnnx("If")).count(), "the nested cond is in the else branch");
      }
    }
  }

  @Test
  void ifAndWhileAtOpsets13And23() throws IOException {
    for (int opset : new int[] {13, 23}) {
      run("if_tensor", Map.of("x", OpParity.normal(8, 3, 4)), true, opset, "Identity", "Identity_1");
      run("while_max_iterations", Map.of("x", OpParity.normal(2, 2, 3), "m", Tensor.ofInts(new long[0], 4)), true, opset,
          "Identity", "Identity_1");
      run("dynamic_rnn_lstm", Map.of("x", OpParity.normal(5, 3, 7, 5)), false, opset, "Identity", "Identity_1", "Identity_2");
    }
  }

  /** tf.function calling tf.function twice: both PartitionedCalls inlined, no call left. */
  @Test
  void partitionedCallsAreInlined() throws IOException {
    Run r = run("partitioned_call", Map.of("x", OpParity.normal(4, 2, 4)), "Identity");
    assertNotZero(r, "Identity");
    assertEquals(2, r.count("Tanh"), r.ops());
    assertEquals(0, r.count("Loop") + r.count("If"), r.ops());
  }

  /**
   * The same graph with each call written as a node whose op is the function's name (how TF 1's {@code Defun} and
   * graph-mode function calls appear): a call too, inlined.
   */
  @Test
  void callsByFunctionNameAreInlined() {
    GraphDef.Builder g = graph("partitioned_call").toBuilder();
    for (org.tensorflow.proto.NodeDef.Builder n : g.getNodeBuilderList()) {
      if (!n.getOp().equals("PartitionedCall")) continue;
      String f = n.getAttrOrThrow("f").getFunc().getName();
      n.setOp(f).clearAttr();
    }
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(4, 2, 4));
    OpParity.Result r = OpParity.check(g.build(), feeds, "Identity");
    assertEquals(2, r.count("Tanh"), r.converted().graph().opHistogram().toString());
  }

  /**
   * {@code tf.compat.v1.nn.dynamic_rnn} (LSTMCell) without sequence_length: the output TensorList is the Loop's scan
   * output, the input list a Gather; it stays a Loop (without lengths there is no mask for today's LSTM loop fusion to
   * recognise; it declines "the scan output is not Select(copy, 0, h')").
   */
  @Test
  void dynamicRnnWithTensorLists() throws IOException {
    Run r = run("dynamic_rnn_lstm", Map.of("x", OpParity.normal(5, 3, 7, 5)), "Identity", "Identity_1", "Identity_2");
    assertNotZero(r, "Identity", "Identity_1", "Identity_2");
    // One recurrent op: a Loop here; an LSTM once the loop fusion learns dynamic_rnn without lengths (issue 16).
    assertEquals(1, r.count("Loop") + r.count("LSTM"), r.ops());
    if (r.count("Loop") == 1) {
      // Carried: loop counter, time, c, h (the output list is a scan output; x's list, weights, bounds are constants).
      assertEquals(2 + 4, loop(r).inputs().size(), loop(r).inputs().toString());
      assertEquals(4 + 1, loop(r).outputs().size());
    }
  }

  /**
   * With sequence_length (lengths 0 and shorter than the time axis among them): TF 1's dynamic_rnn shape under control
   * flow v2, so the LSTM loop fusion fires: one ONNX LSTM with sequence_lens, no Loop. Without fusion, the exact Loop.
   */
  @Test
  void dynamicRnnWithSequenceLengthsFusesIntoLstm() throws IOException {
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(6, 3, 7, 5), "seq_len", Tensor.ofInts(new long[] {3}, 4, 0, 6));
    Run fused = run("dynamic_rnn_lstm_seqlen", feeds, "Identity", "Identity_1", "Identity_2");
    assertNotZero(fused, "Identity", "Identity_1", "Identity_2");
    assertEquals(1, fused.count("LSTM"), fused.ops());
    assertEquals(0, fused.count("Loop"), fused.ops());
    Run loop = run("dynamic_rnn_lstm_seqlen", feeds, false, ConvertOptions.DEFAULT_OPSET, "Identity", "Identity_1", "Identity_2");
    assertEquals(1, loop.count("Loop"), loop.ops());
    assertEquals(0, loop.count("LSTM"), loop.ops());
  }

  /** A Keras LSTM layer in TF 2 (StatelessWhile over TensorLists, no mask): an exact Loop (one LSTM once fused). */
  @Test
  void kerasLstm() throws IOException {
    Run r = run("keras_lstm", Map.of("x", OpParity.normal(7, 2, 6, 5)), "Identity");
    assertNotZero(r, "Identity");
    assertEquals(1, r.count("Loop") + r.count("LSTM"), r.ops());
    Run loop = run("keras_lstm", Map.of("x", OpParity.normal(7, 2, 6, 5)), false, ConvertOptions.DEFAULT_OPSET, "Identity");
    assertEquals(1, loop.count("Loop"), loop.ops());
  }

  /**
   * A TF 2 SavedModel ({@code tf.saved_model.save} of a module with an autograph RNN loop and a tf.cond): the serving
   * graph's StatefulPartitionedCall is inlined, its captured variables read by their object-graph checkpoint keys
   * ({@code w/.ATTRIBUTES/VARIABLE_VALUE}); TensorFlow runs the SavedModel itself (SavedModelBundle).
   */
  @Test
  void tf2SavedModelWithCapturedVariables() throws Exception {
    Path sm = Path.of(FunctionalControlFlowTest.class.getResource("/functional/saved_model_rnn").toURI());
    Converter.Result conv = Converter.convert(ConvertOptions.of(sm, null, List.of()));
    assertEquals(1, conv.graph().count("Loop"), conv.graph().opHistogram().toString());
    assertEquals(1, conv.graph().count("If"), conv.graph().opHistogram().toString());
    Path onnx = dir.resolve("sm.onnx");
    conv.write(onnx);
    assertNull(OnnxChecker.check(onnx));
    for (long[] shape : new long[][] {{2, 5, 3}, {3, 1, 3}}) {
      for (float shift : new float[] {0.5f, -0.5f}) {
        float[] v = OpParity.normal(9, shape).toFloats();
        for (int i = 0; i < v.length; i++) v[i] += shift;
        Tensor x = Tensor.ofFloats(shape, v);
        Tensor expected;
        try (org.tensorflow.SavedModelBundle b = org.tensorflow.SavedModelBundle.load(sm.toString(), "serve");
            org.tensorflow.Tensor in = returnn.onnx.reference.TfTensors.toTf(x);
            org.tensorflow.Result res = b.session().runner().feed("serving_default_x:0", in)
                .fetch("StatefulPartitionedCall:0").run()) {
          expected = returnn.onnx.reference.TfTensors.fromTf(res.get(0));
        }
        Tensor actual = OpParity.runOnnx(conv, Map.of("serving_default_x", x)).get("StatefulPartitionedCall");
        Comparison c = Comparison.of("y", expected, actual);
        assertTrue(c.ok(OpParity.TOL, expected.dtype()), c.toString());
        assertTrue(c.count() == Tensor.count(new long[] {shape[0], shape[1], 4}), c.toString());
      }
    }
  }
}
