package returnn.onnx.rewrite.state;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;
import returnn.onnx.rewrite.attention.CausalBias;

/**
 * Exposes the keys and values of each causal self-attention as RETURNN's {@code k_left}/{@code v_left} state: the
 * fused {@code com.microsoft.MultiHeadAttention} (marked {@code unidirectional}, no past yet) gets
 * {@code past_key}/{@code past_value} from the inputs {@code <L>/initial_state_placeholder_k_left|v_left} [B,H,P,d]
 * (fresh: P = 0) and gives {@code present_key}/{@code present_value} [B,H,P+T,d] (the past frames, then the call's)
 * as the outputs {@code <L>/last_state_k_left|v_left}. The causal mask is aligned to the last key, as RETURNN's is when
 * it concatenates the previous state in front; opset 23's {@code Attention} aligns it to the first key, so a causal
 * {@code Attention} is re-emitted as MultiHeadAttention first.
 *
 * <p>Every stateful attention (RETURNN's placeholder form included) also reads the model input
 * {@value #PREFIX_LENGTH} int32 [B], as RASR's transformer state manager drives it: the past frames of sequence b are
 * right-aligned (left-padded) in the P frames of the state, and only its last {@code prefix-length[b]} frames are
 * real; the others are hidden by the causal bias ({@link CausalBias}). Chunks may be right-padded (any mix of chunk
 * lengths): a padded frame is later than every real query of its sequence, so the causal mask hides it already.
 */
final class AttentionStateRule extends NodeRule {
  static final String NAME = "StateRules.ATTENTION_STATE";
  /** The model input with each sequence's count of real (not padding) past frames. */
  static final String PREFIX_LENGTH = "prefix-length";
  private static final int KEY_PADDING_MASK = 4;
  private static final int PAST_KEY = 6;
  private static final int PAST_VALUE = 7;

  private final Set<String> exposed;
  private final boolean defaults;
  /** The {@value #PREFIX_LENGTH} input, once a stateful attention needs it. */
  private Value prefixLength;

  /**
   * @param exposed collects the names of the state inputs this rule adds
   * @param defaults give the inputs their fresh state (no frames) as an initializer default
   */
  AttentionStateRule(Set<String> exposed, boolean defaults) {
    super(NAME, true);
    this.exposed = exposed;
    this.defaults = defaults;
  }

  @Override
  protected boolean visit(Graph g, Node n, RuleContext ctx) {
    boolean mha = n.is(Node.MS, "MultiHeadAttention");
    boolean onnx = n.isOnnx("Attention");
    if (!mha && !onnx) return false;
    if (!(mha ? n.intAttr("unidirectional", 0) == 1 : n.intAttr("is_causal", 0) == 1)) return false; // not causal: no state
    if (mha && n.input(PAST_KEY) != null) {
      // Continues a state already (RETURNN's placeholder form): only the prefix padding is to be masked.
      if (n.graph() != g || !StateNames.isStateInput(n.input(PAST_KEY).name()) || !g.inputs().contains(n.input(PAST_KEY))) return false;
      CausalBias.lower(g, ctx.opset(), n, prefixLength(g));
      ctx.fused(NAME, "MultiHeadAttention " + n.describe() + ": past keys masked by " + PREFIX_LENGTH);
      return true;
    }
    String reason = check(g, n, mha);
    if (reason != null) {
      ctx.decline(NAME, n.describe(), reason);
      return false;
    }
    expose(g, ctx, mha ? n : asMultiHeadAttention(g, ctx, n));
    return true;
  }

  private static String check(Graph g, Node n, boolean mha) {
    if (n.graph() != g) return "the attention is inside a Loop or If body; only top-level states become model inputs";
    if (n.outputs().size() > 1 && n.outputs().subList(1, n.outputs().size()).stream().anyMatch(v -> v.useCount() > 0)) {
      return "its extra outputs are in use";
    }
    if (mha) {
      for (int i = 3; i < n.inputs().size(); i++) {
        if (n.input(i) != null) return "input " + i + " (" + (i == KEY_PADDING_MASK ? "key padding mask" : "bias") + ") is set";
      }
    } else {
      if (n.inputs().size() > 3 && n.inputs().subList(3, n.inputs().size()).stream().anyMatch(v -> v != null)) {
        return "Attention has a mask or past state input";
      }
      if (n.intAttr("q_num_heads", -1) != n.intAttr("kv_num_heads", -2)) return "grouped-query Attention (q_num_heads != kv_num_heads)";
      if (n.floatAttr("softcap", 0f) != 0f) return "Attention with softcap";
    }
    long heads = heads(n, mha);
    if (heads <= 0) return "no head count";
    for (int i = 0; i < 3; i++) {
      Value v = n.input(i);
      if (v == null || !v.shape().hasRank() || v.shape().rank() != 3) return "input " + i + " is not [B,T,D] (3-D q/k/v)";
    }
    if (headSize(n.input(1), heads) <= 0 || headSize(n.input(2), heads) <= 0) return "key/value sizes are unknown";
    String scope = StateNames.attentionScope(n.tfName() != null ? n.tfName() : n.name());
    for (String key : new String[] {"k_left", "v_left"}) {
      String in = StateNames.input(scope, key);
      String out = StateNames.output(scope, key);
      if (!g.reserveName(in) || !g.reserveName(out)) return "the name " + in + " or " + out + " is taken";
    }
    return null;
  }

  private static long heads(Node n, boolean mha) {
    return mha ? n.intAttr("num_heads", -1) : n.intAttr("q_num_heads", -1);
  }

  /** Per-head size of a [B,T,H·d] value, from its shape or the constant sizes of the Split making it. */
  private static long headSize(Value v, long heads) {
    Dim last = v.shape().dim(-1);
    long total = -1;
    if (last.isFixed()) {
      total = last.value();
    } else if (v.producer() != null && v.producer().isOnnx("Split") && v.producer().input(1) != null
        && v.producer().input(1).isConstant()) {
      total = v.producer().input(1).constant().getLong(v.outputIndex());
    }
    return total > 0 && total % heads == 0 ? total / heads : -1;
  }

  /** ONNX Attention (causal, q/k/v only) as the MultiHeadAttention it equals. */
  private static Node asMultiHeadAttention(Graph g, RuleContext ctx, Node att) {
    OnnxBuilder ob = new OnnxBuilder(g, ctx.opset(), att.name(), att.tfName());
    Map<String, Attr> attrs = Attrs.of("num_heads", att.intAttr("q_num_heads", -1), "unidirectional", 1);
    if (att.attr("scale") != null) attrs.put("scale", att.attr("scale"));
    Node mha = ob.rawNode(Node.MS, "MultiHeadAttention", new ArrayList<>(att.inputs().subList(0, 3)), attrs, 1);
    mha.output(0).setDtype(att.output(0).dtype());
    mha.output(0).setShape(att.output(0).shape());
    g.replaceAllUses(att.output(0), mha.output(0));
    g.removeNode(att);
    return mha;
  }

  private void expose(Graph g, RuleContext ctx, Node mha) {
    String scope = StateNames.attentionScope(mha.tfName() != null ? mha.tfName() : mha.name());
    long heads = mha.intAttr("num_heads", -1);
    OnnxBuilder ob = new OnnxBuilder(g, ctx.opset(), scope + "/state", mha.tfName());
    Value query = mha.input(0);
    DType dt = query.dtype() != null ? query.dtype() : DType.FLOAT;
    String[] keys = {"k_left", "v_left"};
    List<String> mapped = new ArrayList<>();
    while (mha.outputs().size() < 3) g.addNodeOutput(mha, mha.name() + "_present");
    for (int k = 0; k < 2; k++) {
      long d = headSize(mha.input(1 + k), heads);
      Shape inShape = Shape.of(Dim.sym(StatePorts.BATCH), Dim.of(heads), Dim.sym(StatePorts.PAST), Dim.of(d));
      Shape outShape = Shape.of(Dim.sym(StatePorts.BATCH), Dim.of(heads), Dim.sym(StatePorts.TOTAL), Dim.of(d));
      Value in = g.addInput(StateNames.input(scope, keys[k]), dt, inShape);
      exposed.add(in.name());
      g.setInput(mha, PAST_KEY + k, in);
      if (defaults) StatePorts.withDefault(g, ob, in, StatePorts.zeros(dt, inShape), query, 0);
      Value present = mha.output(1 + k);
      present.setDtype(dt);
      present.setShape(outShape);
      StatePorts.addOutput(g, StateNames.output(scope, keys[k]), present, outShape);
      mapped.add(in.name() + " → past_" + (k == 0 ? "key" : "value") + ", present → " + StateNames.output(scope, keys[k]));
    }
    CausalBias.lower(g, ctx.opset(), mha, prefixLength(g));
    mapped.add("past keys masked by " + PREFIX_LENGTH);
    ctx.fused(NAME, "MultiHeadAttention " + mha.describe() + ": " + String.join("; ", mapped));
  }

  /** The {@value #PREFIX_LENGTH} input int32 [B] (with a default of 0 frames when the state inputs have defaults). */
  private Value prefixLength(Graph g) {
    if (prefixLength != null) return prefixLength;
    if (!g.reserveName(PREFIX_LENGTH)) throw new returnn.onnx.ConversionException("the name " + PREFIX_LENGTH + " is taken");
    prefixLength = g.addInput(PREFIX_LENGTH, DType.INT32, Shape.of(Dim.sym(StatePorts.BATCH)));
    // Left out, every past frame is real (start = P - INT32_MAX < 0), as without padding.
    if (defaults) g.setInputDefault(prefixLength, Tensor.fromLongs(DType.INT32, new long[] {1}, new long[] {Integer.MAX_VALUE}));
    return prefixLength;
  }

  /** The prefix length input if one was added. */
  Value prefixLengthInput() {
    return prefixLength;
  }
}
