package returnn.onnx.rewrite.attention;

import static returnn.onnx.rewrite.pattern.Pattern.any;
import static returnn.onnx.rewrite.pattern.Pattern.either;
import static returnn.onnx.rewrite.pattern.Pattern.ints;
import static returnn.onnx.rewrite.pattern.Pattern.op;
import static returnn.onnx.rewrite.pattern.Pattern.scalar;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.pattern.Match;
import returnn.onnx.rewrite.pattern.Matcher;
import returnn.onnx.rewrite.pattern.Pattern;

/**
 * One RETURNN {@code self_attention} layer as the TF backend builds it (RETURNN_GRAPHS.md "Self-attention";
 * returnn/tf/layers/rec.py SelfAttentionLayer): {@code dot(x, QKV)}, Reshape [B,T,H,2dk+dv], Transpose, SplitV
 * ({@code qkv}), {@code q *= dk^-0.5}, optional ConcatV2 with the previous k/v state, {@code energy = matmul(q, k,
 * transpose_b)}, optional {@code + key_shift} term, SelectV2 with {@code -inf·ones_like(energy)}, Softmax
 * ({@code weights}), matmul with v ({@code reduce_att}), Transpose, Reshape ({@code merge_vdim}).
 *
 * @param dk key (and query) size per head; {@code dv} value size per head
 * @param scale the factor q is multiplied by
 * @param fill the value masked energies are set to (RETURNN: -inf_value)
 * @param bias the added energy term [B,H,S,T], or null
 * @param rel {@code bias} recognized as RETURNN's relative-position term, computed anew from the fused queries; or null
 * @param pastKey {@code pastValue} the previous state [B,H,P,d] concatenated in front of k and v, or null
 */
record ReturnnSelfAttention(String scope, Value x, Tensor qkvWeight, int heads, int dk, int dv, float scale,
    AttentionMask mask, double fill, Value bias, RelativePositions rel, Value pastKey, Value pastValue, Match match) {

  private static final Pattern.Op DOT = op("Reshape",
      op("MatMul", op("Reshape", any("x"), any()).as("dot_in"), Pattern.constant("qkv_weight"))
          .attr("transpose_a", false).attr("transpose_b", false).as("dot_matmul"),
      any()).as("dot");
  private static final Pattern.Op SPLIT = op("SplitV",
      op("Transpose", op("Reshape", DOT, any("heads_shape")).as("heads"), ints(0, 2, 1, 3)).as("heads_t"),
      Pattern.constant("sizes"), scalar("split_axis")).as("split");
  private static final Pattern Q = op("Mul", SPLIT.output(0), scalar("scale")).commutative().as("q_scaled");
  private static final Pattern.Op ENERGY = op("BatchMatMulV2|BatchMatMul", Q, afterState(1, "past_key", "concat_k"))
      .attr("adj_x", false).attr("adj_y", true).as("energy");
  private static final Pattern SCORES = either(op("AddV2|Add", ENERGY, any("bias")).commutative().as("add_bias"), ENERGY);
  private static final Pattern MASKED = op("SelectV2", any("mask"), SCORES,
      op("Mul", scalar("fill"), either(op("OnesLike", any()).as("fill_ones"), any())).commutative()).as("select");
  private static final Pattern.Op WEIGHTS = op("Softmax", either(MASKED, SCORES)).as("weights").anchor();

  /** The pattern, rooted at the layer's output Reshape. */
  static final Pattern.Op PATTERN = op("Reshape",
      op("Transpose",
          op("BatchMatMulV2|BatchMatMul", WEIGHTS, afterState(2, "past_value", "concat_v"))
              .attr("adj_x", false).attr("adj_y", false).as("reduce_att"),
          ints(0, 2, 1, 3)).as("merge_t"),
      any("merge_shape"));

  /** Symbolic dims of the layer's tensors: batch, query time, key time (previous state + query time), batch·time. */
  enum Dim { B, T, K, BT }

  /** Matched nodes computing the [B,H,T,K] energies. */
  static final List<String> ENERGY_NODES = List.of("energy", "add_bias", "fill_ones", "select", "weights");

  private static Pattern afterState(int output, String past, String concat) {
    return either(SPLIT.output(output),
        op("ConcatV2", any(past), SPLIT.output(output), either(scalar(2), scalar(-2))).as(concat));
  }

  /** The layer of a match, or a reason it is not a layer this converter can fuse (in {@code reason[0]}). */
  static ReturnnSelfAttention of(Match m, String[] reason) {
    Tensor w = m.constant("qkv_weight");
    long[] sizes = m.constant("sizes").toLongs();
    long axis = m.constant("split_axis").getLong(0);
    if (sizes.length != 3 || sizes[0] != sizes[1] || (axis != -1 && axis != 3)) {
      return fail(reason, "SplitV sizes " + java.util.Arrays.toString(sizes) + " on axis " + axis
          + " are not [dk, dk, dv] on the last axis");
    }
    int dk = (int) sizes[0], dv = (int) sizes[2];
    int perHead = 2 * dk + dv;
    if (w.rank() != 2 || w.shape()[1] % perHead != 0) {
      return fail(reason, "QKV weight " + java.util.Arrays.toString(w.shape()) + " is not [n_in, H*(2*" + dk + "+" + dv + ")]");
    }
    int heads = (int) (w.shape()[1] / perHead);
    if (!lastDims(m.value("heads_shape"), 4, heads, perHead)) {
      return fail(reason, "the QKV product is not reshaped to [B,T," + heads + "," + perHead + "]");
    }
    if (!lastDims(m.value("merge_shape"), 3, -1, (long) heads * dv)) {
      return fail(reason, "the output is not reshaped to [B,T," + heads * dv + "]");
    }
    if (m.has("past_key") != m.has("past_value")) return fail(reason, "only one of k and v continues a previous state");
    Value past = m.has("past_key") ? m.value("past_key") : null;
    AttentionMask mask = AttentionMask.NONE;
    double fill = Double.NEGATIVE_INFINITY;
    if (m.has("mask")) {
      fill = m.constant("fill").getDouble(0);
      // Softmax gives masked energies weight exactly 0 below about -104 (exp underflow); ONNX Runtime adds
      // mask_filter_value instead of replacing, which is the same then, but not for a mildly negative fill.
      if (fill > -1e4) return fail(reason, "masked energies are set to " + fill + ", not to a large negative value");
      AttentionMask.Classified c = AttentionMask.classify(m.value("mask"), v -> isKeyCount(v, m));
      if (c.mask() == null) return fail(reason, c.reason());
      mask = c.mask();
      boolean afterState = mask.kind() == AttentionMask.Kind.CAUSAL_AFTER_STATE;
      if (past != null && mask.kind() != AttentionMask.Kind.NONE && !afterState) {
        return fail(reason, "a " + mask.kind() + " mask with a previous k/v state");
      }
      if (past == null && afterState) return fail(reason, "a causal mask over a previous state, but there is none");
    }
    Value bias = m.has("bias") ? m.value("bias") : null;
    RelativePositions rel = bias == null ? null : RelativePositions.recognize(bias);
    if (bias != null && rel == null && !isEnergyShaped(bias)) {
      return fail(reason, "the energy term " + bias + " is not RETURNN's key_shift term (Transpose [1,2,0,3] to [B,H,S,T])");
    }
    List<String> stray = strayUses(m);
    if (!stray.isEmpty()) return fail(reason, "intermediate values are used elsewhere: " + String.join(", ", stray));
    String tfName = m.rootNode().tfName();
    String scope = tfName.contains("/") ? tfName.substring(0, tfName.lastIndexOf('/')) : tfName;
    return new ReturnnSelfAttention(scope, m.value("x"), w, heads, dk, dv, (float) m.constant("scale").getDouble(0),
        mask, fill, bias, rel, past, m.has("past_value") ? m.value("past_value") : null, m);
  }

  private static ReturnnSelfAttention fail(String[] reason, String why) {
    reason[0] = why;
    return null;
  }

  /**
   * Uses of matched values outside the layer that a rewrite cannot keep. The scaled q (the key_shift term reads it)
   * and the concatenated state (the layer's final state) are rewired to fused values, and Shapes of matched tensors
   * (RETURNN's {@code tf.shape(energy)} and such) to shapes computed from the inputs; anything else would keep the
   * unfused computation alive.
   */
  private static List<String> strayUses(Match m) {
    List<String> stray = new ArrayList<>();
    for (Node n : m.escaping()) {
      boolean rewired = is(m, n, "q_scaled") || is(m, n, "concat_k") || is(m, n, "concat_v");
      if (rewired) continue;
      for (Value o : n.outputs()) {
        for (Value.Use u : o.uses()) {
          if (m.nodes().contains(u.node())) continue;
          if (u.node().is(Node.TF, "Shape") && dims(m, n, o.outputIndex()) != null) continue;
          stray.add(n.describe() + " by " + u.node().describe());
        }
        if (o.isGraphOutput()) stray.add(n.describe() + " as a graph output");
      }
    }
    return stray;
  }

  private static boolean is(Match m, Node n, String name) {
    return m.has(name) && m.node(name) == n;
  }

  /** The dims of output {@code k} of matched node {@code n} (Dim or Long entries), or null if not known. */
  static Object[] dims(Match m, Node n, int k) {
    long nIn = m.constant("qkv_weight").shape()[0], total = m.constant("qkv_weight").shape()[1];
    long[] sizes = m.constant("sizes").toLongs();
    long h = total / (sizes[0] + sizes[1] + sizes[2]);
    if (is(m, n, "dot_in")) return new Object[] {Dim.BT, nIn};
    if (is(m, n, "dot_matmul")) return new Object[] {Dim.BT, total};
    if (is(m, n, "dot")) return new Object[] {Dim.B, Dim.T, total};
    if (is(m, n, "heads")) return new Object[] {Dim.B, Dim.T, h, total / h};
    if (is(m, n, "heads_t")) return new Object[] {Dim.B, h, Dim.T, total / h};
    if (is(m, n, "split")) return new Object[] {Dim.B, h, Dim.T, sizes[k]};
    if (is(m, n, "q_scaled")) return new Object[] {Dim.B, h, Dim.T, sizes[0]};
    if (is(m, n, "concat_k")) return new Object[] {Dim.B, h, Dim.K, sizes[1]};
    if (is(m, n, "concat_v")) return new Object[] {Dim.B, h, Dim.K, sizes[2]};
    for (String e : ENERGY_NODES) if (is(m, n, e)) return new Object[] {Dim.B, h, Dim.T, Dim.K};
    if (is(m, n, "reduce_att")) return new Object[] {Dim.B, h, Dim.T, sizes[2]};
    if (is(m, n, "merge_t")) return new Object[] {Dim.B, Dim.T, h, sizes[2]};
    return null;
  }

  /** A shape target of {@code rank} entries ending in {@code ..., a, b} (a = -1: any): a constant or a Pack. */
  private static boolean lastDims(Value shape, int rank, long a, long b) {
    Value s = Matcher.resolve(shape);
    long[] tail = new long[2];
    if (s.isConstant()) {
      Tensor t = s.constant();
      if (t.size() != rank) return false;
      tail[0] = t.getLong(rank - 2);
      tail[1] = t.getLong(rank - 1);
    } else {
      Node p = s.producer();
      if (p == null || !p.is(Node.TF, "Pack") || p.inputs().size() != rank) return false;
      for (int i = 0; i < 2; i++) {
        Value d = Matcher.resolve(p.input(rank - 2 + i));
        tail[i] = d.isConstant() && d.constant().size() == 1 ? d.constant().getLong(0) : Long.MIN_VALUE;
      }
    }
    return (a == -1 || tail[0] == a) && tail[1] == b;
  }

  /**
   * MultiHeadAttention takes a [B|1, H|1, S, T] bias. RETURNN's key_shift term ends in a Transpose [1,2,0,3] to
   * [B,H,S,T]; otherwise the rank must be known to be 4, with no query or key axis known to broadcast.
   */
  private static boolean isEnergyShaped(Value bias) {
    Value v = Matcher.resolve(bias);
    if (v.shape().hasRank()) {
      Shape s = v.shape();
      return s.rank() == 4 && s.dim(2).value() != 1 && s.dim(3).value() != 1;
    }
    Node p = v.producer();
    if (p == null || !p.is(Node.TF, "Transpose")) return false;
    Value perm = Matcher.resolve(p.input(1));
    return perm.isConstant() && java.util.Arrays.equals(perm.constant().toLongs(), new long[] {1, 2, 0, 3});
  }

  /** Whether a scalar is the number of keys: {@code tf.shape(t)[i]} of the input or a matched tensor with K at i. */
  private static boolean isKeyCount(Value scalar, Match m) {
    Value v = Matcher.resolve(scalar);
    Node slice = v.producer();
    if (slice == null || !slice.is(Node.TF, "StridedSlice") || slice.intAttr("shrink_axis_mask", 0) != 1) return false;
    Value begin = Matcher.resolve(slice.input(1));
    if (!begin.isConstant() || begin.constant().size() != 1) return false;
    long i = begin.constant().getLong(0);
    Node shape = Matcher.resolve(slice.input(0)).producer();
    if (shape == null || !shape.is(Node.TF, "Shape")) return false;
    Value of = Matcher.resolve(shape.input(0));
    boolean noState = !m.has("past_key");
    if (of == m.value("x")) return i == 1 && noState;
    if (of.producer() == null || !m.nodes().contains(of.producer())) return false;
    Object[] d = dims(m, of.producer(), of.outputIndex());
    if (d == null || i < -d.length || i >= d.length) return false;
    Object dim = d[(int) (i < 0 ? i + d.length : i)];
    return dim == Dim.K || (dim == Dim.T && noState);
  }
}
