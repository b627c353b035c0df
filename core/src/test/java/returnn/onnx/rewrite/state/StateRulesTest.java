package returnn.onnx.rewrite.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.ConversionException;
import returnn.onnx.ConversionReport;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * The state pass on hand-built ONNX graphs with the nodes the fusion rules emit (LSTM, MultiHeadAttention, opset 23
 * Attention): what it exposes, under which names and defaults, and why it declines. Numerics are checked in ONNX
 * Runtime by the runtime and verify tests.
 */
class StateRulesTest {
  static final int H = 3;

  /** x [T,B,2] → LSTM (hidden 3) → y; {@code initialH} goes to initial_h. */
  static Graph lstm(String direction, Value initialH, Graph g) {
    Value x = g.inputs().get(0);
    List<Value> in = new ArrayList<>(Arrays.asList(x, g.addConstant("W", Tensor.ofFloats(new long[] {1, 4 * H, 2}, new float[8 * H])),
        g.addConstant("R", Tensor.ofFloats(new long[] {1, 4 * H, H}, new float[4 * H * H])), null, null, initialH));
    Node n = g.addNode(Node.ONNX, "LSTM", "lstm0/rec/NativeLstm2/LSTM", "lstm0/rec/NativeLstm2", in, 3);
    n.set("hidden_size", new Attr.Int(H));
    n.set("direction", new Attr.Str(direction));
    for (Value o : n.outputs()) o.setDtype(DType.FLOAT);
    n.output(0).setName("y");
    g.addOutput(n.output(0));
    return g;
  }

  static Graph withX() {
    Graph g = new Graph("test");
    g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("time"), Dim.sym("batch"), Dim.of(2)));
    return g;
  }

  @Test
  void forwardLstmGetsReturnnNamedPlainStateInputs() {
    Graph g = lstm("forward", null, withX());
    StateMapping m = StateInterface.expose(g, 17, new ConversionReport(), false);
    assertEquals(List.of("lstm0/rec/initial_state_placeholder_c", "lstm0/rec/initial_state_placeholder_h"), m.inputs());
    assertEquals(List.of("lstm0/rec/last_state_c", "lstm0/rec/last_state_h"), m.outputs());
    assertEquals(List.of("y", "lstm0/rec/last_state_c", "lstm0/rec/last_state_h"), g.outputs().stream().map(Value::name).toList());
    assertEquals(Map.of("STATE_lstm0/rec/initial_state_placeholder_c", "lstm0/rec/last_state_c",
        "STATE_lstm0/rec/initial_state_placeholder_h", "lstm0/rec/last_state_h"), m.rasrMetadata());
    for (StateMapping.Entry e : m.entries()) {
      assertFalse(e.hasDefault());
      assertEquals("[batch, 3]", e.inputShape().toString());
      Value in = g.inputs().stream().filter(v -> v.name().equals(e.input())).findFirst().orElseThrow();
      assertNull(g.inputDefault(in), "a plain input: no initializer");
      assertTrue(in.uses().stream().noneMatch(u -> u.node().op().equals("Expand")), "no default to broadcast");
    }
  }

  @Test
  void nonZeroConstantInitialStateNeedsStateDefaults() {
    Graph g = withX();
    Value init = g.addConstant("h0", Tensor.ofFloats(new long[] {1, 1, H}, 1, 2, 3));
    ConversionException e = assertThrows(ConversionException.class,
        () -> StateInterface.expose(lstm("forward", init, g), 17, new ConversionReport(), false));
    assertTrue(e.getMessage().contains("non-zero constant"), e.getMessage());
  }

  @Test
  void forwardLstmGetsReturnnNamedStateWithFreshDefaults() {
    Graph g = lstm("forward", null, withX());
    StateMapping m = StateInterface.expose(g, 17, new ConversionReport(), true);
    assertEquals(List.of("lstm0/rec/initial_state_placeholder_c", "lstm0/rec/initial_state_placeholder_h"), m.inputs());
    assertEquals(List.of("lstm0/rec/last_state_c", "lstm0/rec/last_state_h"), m.outputs());
    assertEquals(List.of("y", "lstm0/rec/last_state_c", "lstm0/rec/last_state_h"), g.outputs().stream().map(Value::name).toList());
    for (StateMapping.Entry e : m.entries()) {
      assertEquals(StateMapping.Origin.AUTOMATIC, e.origin());
      assertEquals("[batch, 3]", e.inputShape().toString());
      Value in = g.inputs().stream().filter(v -> v.name().equals(e.input())).findFirst().orElseThrow();
      Tensor d = g.inputDefault(in);
      assertNotNull(d, "fresh-state default");
      assertArrayEquals(new long[] {1, H}, d.shape());
      assertArrayEquals(new float[H], d.toFloats());
      assertEquals("Expand", in.uses().get(0).node().op(), "the [1,n] default is broadcast over the batch");
    }
    assertEquals(m, StateMapping.fromJson(m.toJson()));
    assertEquals(1, g.count("LSTM"));
  }

  @Test
  void constantInitialStateBecomesTheDefault() {
    Graph g = withX();
    Value init = g.addConstant("h0", Tensor.ofFloats(new long[] {1, 1, H}, 1, 2, 3));
    StateInterface.expose(lstm("forward", init, g), 17, new ConversionReport(), true);
    Value h = g.inputs().stream().filter(v -> v.name().endsWith("placeholder_h")).findFirst().orElseThrow();
    assertArrayEquals(new float[] {1, 2, 3}, g.inputDefault(h).toFloats());
  }

  @Test
  void declinesWhatCannotBeCarried() {
    ConversionReport report = new ConversionReport();
    ConversionException e = assertThrows(ConversionException.class,
        () -> StateInterface.expose(lstm("reverse", null, withX()), 17, report, false));
    assertTrue(e.getMessage().contains("a reverse LSTM reads the future"), e.getMessage());

    Graph g = withX();
    Value computed = g.addNode(Node.ONNX, "Identity", "h0", null, List.of(g.addInput("h0_source", DType.FLOAT,
        Shape.of(1, 2, H))), 1).output(0);
    e = assertThrows(ConversionException.class, () -> StateInterface.expose(lstm("forward", computed, g), 17, new ConversionReport(), false));
    assertTrue(e.getMessage().contains("is computed at run time, not a constant"), e.getMessage());
  }

  /** x [B,T,8] split into q, k, v [B,T,8] → MultiHeadAttention (2 heads) → y. */
  static Graph attention(boolean causal, boolean keyPadding, boolean onnxAttention) {
    Graph g = new Graph("att");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("batch"), Dim.sym("time"), Dim.of(8)));
    List<Value> in = new ArrayList<>(List.of(x, x, x));
    if (keyPadding) {
      in.addAll(Arrays.asList(null, g.addInput("lens", DType.INT32, Shape.of(Dim.sym("batch")))));
    }
    Node n;
    if (onnxAttention) {
      n = g.addNode(Node.ONNX, "Attention", "dec_01_self_att/fused/Attention", "dec_01_self_att/merge_vdim", in, 1);
      n.set("q_num_heads", new Attr.Int(2)).set("kv_num_heads", new Attr.Int(2)).set("is_causal", new Attr.Int(causal ? 1 : 0));
    } else {
      n = g.addNode(Node.MS, "MultiHeadAttention", "dec_01_self_att/fused/MultiHeadAttention", "dec_01_self_att/merge_vdim", in, 1);
      n.set("num_heads", new Attr.Int(2)).set("unidirectional", new Attr.Int(causal ? 1 : 0));
    }
    n.set("scale", new Attr.Float(0.5f));
    n.output(0).setDtype(DType.FLOAT);
    n.output(0).setName("y");
    g.addOutput(n.output(0));
    return g;
  }

  @Test
  void causalAttentionGetsPastAndPresentKeysAndValues() {
    for (boolean onnxAttention : new boolean[] {false, true}) {
      Graph g = attention(true, false, onnxAttention);
      StateMapping m = StateInterface.expose(g, onnxAttention ? 23 : 17, new ConversionReport(), true);
      assertEquals(List.of("dec_01_self_att/initial_state_placeholder_k_left", "dec_01_self_att/initial_state_placeholder_v_left"),
          m.inputs());
      assertEquals(List.of("dec_01_self_att/last_state_k_left", "dec_01_self_att/last_state_v_left"), m.outputs());
      assertEquals("[batch, 2, past_time, 4]", m.entries().get(0).inputShape().toString());
      assertEquals("[batch, 2, total_time, 4]", m.entries().get(0).outputShape().toString());
      assertEquals(1, g.count("com.microsoft.MultiHeadAttention"), "opset 23 Attention is re-emitted: " + g.opHistogram());
      assertEquals(0, g.count("Attention"));
      Node mha = g.nodes().stream().filter(n -> n.op().equals("MultiHeadAttention")).findFirst().orElseThrow();
      assertEquals(3, mha.outputs().size());
      assertEquals(0.5f, mha.floatAttr("scale", 0), "scale carried over");
      Value k = g.inputs().get(1);
      assertArrayEquals(new long[] {1, 2, 0, 4}, g.inputDefault(k).shape(), "fresh: no previous frames");
    }
  }

  @Test
  void attentionWithoutCausalMaskHasNoStateAndKeyPaddingDeclines() {
    ConversionException e = assertThrows(ConversionException.class,
        () -> StateInterface.expose(attention(false, false, false), 17, new ConversionReport(), false));
    assertTrue(e.getMessage().startsWith("--state found no recurrent state"), e.getMessage());
    e = assertThrows(ConversionException.class, () -> StateInterface.expose(attention(true, true, false), 17, new ConversionReport(), false));
    assertTrue(e.getMessage().contains("input 4 (key padding mask) is set"), e.getMessage());
  }

  @Test
  void mappingJsonRoundTripsAndRejectsOtherVersions() {
    StateMapping m = new StateMapping(List.of(
        new StateMapping.Entry("a/initial_state_placeholder_h", "a/last_state_h", DType.FLOAT,
            Shape.of(Dim.sym("batch"), Dim.of(4)), Shape.of(Dim.sym("batch"), Dim.UNKNOWN), true, StateMapping.Origin.PLACEHOLDER),
        new StateMapping.Entry("q\"uote\\d/initial_state_placeholder_k_left", "q\"uote\\d/last_state_k_left", DType.DOUBLE,
            Shape.UNKNOWN, Shape.of(1, 2), false, StateMapping.Origin.AUTOMATIC)));
    String json = m.toJson();
    assertTrue(json.startsWith("{\"version\": 1, \"states\": [{\"input\": \"a/initial_state_placeholder_h\""), json);
    assertTrue(json.contains("\"input_shape\": [\"batch\", 4], \"output_shape\": [\"batch\", null]"), json);
    assertEquals(m, StateMapping.fromJson(json));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> StateMapping.fromJson(json.replace("\"version\": 1", "\"version\": 2")));
    assertTrue(e.getMessage().contains("version 2 is not supported"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> StateMapping.fromJson("{\"version\": 1, \"states\": [}"));
    assertTrue(e.getMessage().startsWith(StateMapping.METADATA_KEY + ": malformed JSON"), e.getMessage());
  }
}
