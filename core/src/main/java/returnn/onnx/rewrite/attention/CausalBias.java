package returnn.onnx.rewrite.attention;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/**
 * Causal masking of a {@code com.microsoft.MultiHeadAttention} as an additive bias instead of its
 * {@code unidirectional} attribute, which ONNX Runtime 1.15 rejects ("Unrecognized attribute: unidirectional", the
 * attribute came in 1.16) while RASR's images still link 1.15.1. The fusion marks causal attention with
 * {@code unidirectional=1}; this pass, run on the finished graph (after {@code --state} attached past keys and values),
 * replaces every such attribute by a bias input [1|B, H, S, P+S] that is 0 where query i may see key j and
 * {@link PaddingColumn#MASKED} elsewhere, aligned to the last key as RETURNN's causal mask after a previous state is:
 * key j is visible to query i iff {@code j <= i + P}. With a prefix length input (RASR's transformer state manager
 * left-pads each sequence's cached prefix to the longest one, P), keys {@code j < P - prefix_length[b]} are padding
 * and hidden too. A bias already there (relative positions) is added to.
 *
 * <p>ONNX Runtime 1.15.1's CPU kernel computes wrong numbers (reads memory it should not) unless the attention bias
 * has the full shape [B, H, S, T] (later versions broadcast batch and heads) and unless the q/k/v bias input is given:
 * without it, even plain q/k/v attention is off by about 1 there. So the mask is expanded to [B, H, S, T], and every
 * MultiHeadAttention without a q/k/v bias gets one of zeros (measured: ONNX Runtime 1.23 is as fast with it).
 */
public final class CausalBias {
  static final int QKV_BIAS = 3;
  static final int BIAS = 5;
  static final int PAST_KEY = 6;

  private CausalBias() {}

  /** True if {@code n} is a MultiHeadAttention marked causal. */
  public static boolean isCausal(Node n) {
    return n.is(Node.MS, "MultiHeadAttention") && n.intAttr("unidirectional", 0) == 1;
  }

  /** Lowers every {@code unidirectional} attribute of {@code g} and its subgraphs; returns how many were causal. */
  public static int lowerAll(Graph g, int opset) {
    int causal = 0;
    for (Node n : new ArrayList<>(g.nodes())) {
      for (returnn.onnx.ir.Attr a : n.attrs().values()) {
        if (a instanceof returnn.onnx.ir.Attr.GraphVal sub) causal += lowerAll(sub.value(), opset);
      }
      if (!n.is(Node.MS, "MultiHeadAttention")) continue;
      if (n.inputs().size() <= QKV_BIAS || n.input(QKV_BIAS) == null) zeroQkvBias(g, opset, n);
      if (n.attr("unidirectional") == null) continue;
      if (isCausal(n)) {
        lower(g, opset, n, null);
        causal++;
      } else {
        n.removeAttr("unidirectional");
      }
    }
    return causal;
  }

  /**
   * Replaces {@code mha}'s {@code unidirectional=1} by the causal bias; {@code prefixLength} int32 [B] (or null) hides
   * each sequence's left padding of the past keys.
   */
  public static void lower(Graph g, int opset, Node mha, Value prefixLength) {
    OnnxBuilder b = new OnnxBuilder(g, opset, mha.name() + "/causal", mha.tfName());
    long heads = mha.intAttr("num_heads", -1);
    Value query = mha.input(0);
    Value queries = b.slice(b.shapeOf(query), new long[] {1}, new long[] {2}, new long[] {0}, null);
    Value past = mha.inputs().size() > PAST_KEY ? mha.input(PAST_KEY) : null;
    Value pastLen = past == null ? b.constLongs(0) : b.slice(b.shapeOf(past), new long[] {2}, new long[] {3}, new long[] {0}, null);
    Value keys = b.op("Add", queries, pastLen);
    Value i = b.op("Range", b.scalarLong(0), b.squeeze(queries, 0), b.scalarLong(1));
    Value j = b.op("Range", b.scalarLong(0), b.squeeze(keys, 0), b.scalarLong(1));
    // [S,1] + P >= [1,T]
    Value visible = b.op("GreaterOrEqual", b.unsqueeze(b.op("Add", i, pastLen), 1), b.unsqueeze(j, 0));
    visible = b.unsqueeze(visible, 0, 1); // [1,1,S,T]
    if (prefixLength != null) {
      Value start = b.op("Sub", pastLen, b.cast(prefixLength, DType.INT64)); // [B]: first real key of each sequence
      Value real = b.op("GreaterOrEqual", b.unsqueeze(j, 0), b.unsqueeze(start, 1)); // [B,T]
      visible = b.op("And", visible, b.unsqueeze(real, 1, 2)); // [B,1,S,T]
    }
    Value bias = b.op("Where", visible, b.scalar(DType.FLOAT, 0), b.scalar(DType.FLOAT, PaddingColumn.MASKED));
    Value batch = b.slice(b.shapeOf(query), new long[] {0}, new long[] {1}, new long[] {0}, null);
    Value target = b.concat(List.of(batch, b.constLongs(heads), queries, keys), 0);
    bias = b.op("Expand", bias, target);
    bias.setDtype(DType.FLOAT);
    bias.setShape(Shape.of(query.shape().hasRank() ? query.shape().dim(0) : Dim.UNKNOWN, Dim.of(heads), Dim.UNKNOWN, Dim.UNKNOWN));
    List<Value> in = new ArrayList<>(mha.inputs());
    while (in.size() <= BIAS) in.add(null);
    Value old = in.get(BIAS);
    Value combined = old == null ? bias : b.op("Add", old, bias);
    combined.setDtype(DType.FLOAT);
    g.setInput(mha, BIAS, combined);
    mha.removeAttr("unidirectional");
  }

  /** Input 3: zeros [q + k + v hidden sizes] (a constant if the sizes are fixed). */
  static void zeroQkvBias(Graph g, int opset, Node mha) {
    OnnxBuilder b = new OnnxBuilder(g, opset, mha.name() + "/qkv_bias", mha.tfName());
    long total = 0;
    for (int i = 0; i < 3; i++) {
      Value v = mha.input(i);
      Dim d = v != null && v.shape().hasRank() ? v.shape().dim(-1) : Dim.UNKNOWN;
      if (!d.isFixed()) {
        total = -1;
        break;
      }
      total += d.value();
    }
    Value zeros;
    if (total > 0) {
      zeros = b.constant(returnn.onnx.ir.Tensor.ofFloats(new long[] {total}, new float[(int) total]));
    } else {
      Value size = null;
      for (int i = 0; i < 3; i++) {
        Value last = b.slice(b.shapeOf(mha.input(i)), new long[] {-1}, new long[] {Long.MAX_VALUE}, new long[] {0}, null);
        size = size == null ? last : b.op("Add", size, last);
      }
      zeros = b.op("ConstantOfShape", List.of(size), returnn.onnx.build.Attrs.of("value",
          returnn.onnx.ir.Tensor.ofFloats(new long[] {1}, new float[1])));
      zeros.setDtype(DType.FLOAT);
    }
    g.setInput(mha, QKV_BIAS, zeros);
  }
}
