package returnn.onnx.rewrite.attention;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.pattern.PreLegalTypes;

/**
 * Emits one fused attention node for a {@link ReturnnSelfAttention}: ONNX Runtime's
 * {@code com.microsoft.MultiHeadAttention} (key padding as a {@link PaddingColumn}), or at opset 23 the standard
 * {@code Attention} where it expresses the same. Runs before legalization, so inputs may be tf-dialect values (the
 * Legalizer rewires them); their element types are set here from the TF graph.
 */
final class AttentionEmitter {
  /** ONNX Runtime adds this to masked energies; -FLT_MAX gives them weight exactly 0, as TF's -inf does. */
  static final float LOWEST = -Float.MAX_VALUE;

  private AttentionEmitter() {}

  /** The fused output [B,T,H·dv] and, with a previous state, the present k and v [B,H,P+T,d]. */
  record Fused(Value output, Value presentKey, Value presentValue, Value queryHeads, String op) {}

  /** The attention node's inputs: q, k, v [B,T,·] and the energy bias (or null). */
  private record Inputs(Value q, Value k, Value v, Value bias) {}

  static Fused emit(Graph g, int opset, ReturnnSelfAttention a) {
    OnnxBuilder b = new OnnxBuilder(g, opset, a.scope() + "/fused", a.match().rootNode().tfName());
    Value x = typed(a.x(), DType.FLOAT);
    long hk = (long) a.heads() * a.dk(), hv = (long) a.heads() * a.dv();
    Value qkv = b.op("MatMul", x, b.constant(QkvWeights.deinterleave(a.qkvWeight(), a.heads(), a.dk(), a.dv())));
    List<Value> parts = b.split(qkv, -1, new long[] {hk, hk, hv});
    Value q = parts.get(0);
    boolean queryHeadsUsed = a.match().escaping().contains(a.match().node("q_scaled"));
    Value queryHeads = queryHeadsUsed || a.rel() != null ? queryHeads(b, q, a) : null;
    // The relative-position term comes with one extra query row (RelativePositions.emit); a dummy query takes it
    // and its output row is dropped. Causal masking and a previous state need the square term.
    boolean extraRow = a.rel() != null && a.pastKey() == null && a.mask().kind() != AttentionMask.Kind.CAUSAL;
    Value bias = a.rel() != null ? a.rel().emit(b, queryHeads, extraRow) : a.bias() == null ? null : typed(a.bias(), DType.FLOAT);
    Inputs in = new Inputs(q, parts.get(1), parts.get(2), bias);
    Fused f = standardAttentionApplies(opset, a) ? onnxAttention(b, a, in, extraRow) : multiHeadAttention(b, a, in, extraRow);
    Value out = f.output();
    if (extraRow) {
      Value time = b.slice(b.shapeOf(x), new long[] {1}, new long[] {2}, new long[] {0}, null);
      out = b.op("Slice", List.of(out, b.constLongs(0), time, b.constLongs(1)), Attrs.of());
    }
    Shape xs = a.x().shape();
    boolean known = xs.hasRank() && xs.rank() == 3;
    out.setShape(Shape.of(known ? xs.dim(0) : Dim.UNKNOWN, known ? xs.dim(1) : Dim.UNKNOWN, Dim.of(hv)));
    return new Fused(out, f.presentKey(), f.presentValue(), queryHeadsUsed ? queryHeads : null, f.op());
  }

  /**
   * ONNX Attention (opset 23) aligns its causal mask to the upper left, so with a previous state it would hide the
   * state's last frames from the first queries; MultiHeadAttention aligns to the lower right, as RETURNN does. Causal
   * masking plus an added term has no single ONNX Attention form either.
   */
  private static boolean standardAttentionApplies(int opset, ReturnnSelfAttention a) {
    if (opset < 23 || a.pastKey() != null) return false;
    return !(a.mask().kind() == AttentionMask.Kind.CAUSAL && (a.bias() != null || a.rel() != null));
  }

  /** A zero query at the end of the time axis, for the relative-position term's extra row. */
  private static Value extraQuery(OnnxBuilder b, Value q) {
    return b.op("Pad", List.of(q, b.constLongs(0, 0, 0, 0, 1, 0)), Attrs.of("mode", "constant"));
  }

  private static Fused multiHeadAttention(OnnxBuilder b, ReturnnSelfAttention a, Inputs x, boolean extraRow) {
    boolean past = a.pastKey() != null;
    Value q = x.q(), k = x.k();
    if (a.mask().kind() == AttentionMask.Kind.KEY_PADDING) {
      Value lengths = b.cast(typed(a.mask().lengths(), a.mask().lengthsType()), DType.INT32);
      List<Value> qk = PaddingColumn.augment(b, q, k, lengths, a.heads(), a.dk());
      q = qk.get(0);
      k = qk.get(1);
    }
    if (extraRow) q = extraQuery(b, q);
    List<Value> in = new ArrayList<>(Arrays.asList(q, k, x.v(), null, null, x.bias(), null, null));
    if (past) {
      in.set(6, typed(a.pastKey(), DType.FLOAT));
      in.set(7, typed(a.pastValue(), DType.FLOAT));
    }
    while (in.get(in.size() - 1) == null) in.remove(in.size() - 1);
    boolean causal = a.mask().kind() == AttentionMask.Kind.CAUSAL || a.mask().kind() == AttentionMask.Kind.CAUSAL_AFTER_STATE;
    float filter = (float) Math.max(a.fill(), LOWEST);
    Map<String, Attr> attrs = Attrs.of("num_heads", a.heads(), "scale", a.scale(), "mask_filter_value", filter,
        "unidirectional", causal ? 1 : 0);
    List<Value> out = b.node(Node.MS, "MultiHeadAttention", in, attrs, past ? 3 : 1);
    return new Fused(out.get(0), past ? out.get(1) : null, past ? out.get(2) : null, null, "com.microsoft.MultiHeadAttention");
  }

  private static Fused onnxAttention(OnnxBuilder b, ReturnnSelfAttention a, Inputs x, boolean extraRow) {
    Value bias = x.bias();
    Value mask = null;
    if (a.mask().kind() == AttentionMask.Kind.KEY_PADDING) {
      // RETURNN's own [B,1,1,T] bool mask; with an added term, masked entries take the fill value as TF's SelectV2
      // does. ONNX Runtime's CPU kernel reads the mask per (batch, head) as a full [S,T] matrix (it broadcasts only
      // the leading dims, llm/attention.cc), so the query axis is expanded.
      Value keep = typed(a.match().value("mask"), DType.BOOL);
      if (bias == null) {
        Object[] dims = {ReturnnSelfAttention.Dim.B, 1L, ReturnnSelfAttention.Dim.T, ReturnnSelfAttention.Dim.K};
        mask = b.op("Expand", keep, shape(b.graph(), b.opset(), a, dims, DType.INT64));
      } else {
        mask = b.op("Where", keep, bias, b.scalar(DType.FLOAT, a.fill()));
      }
    } else if (bias != null) {
      mask = bias;
    }
    List<Value> in = new ArrayList<>(List.of(extraRow ? extraQuery(b, x.q()) : x.q(), x.k(), x.v()));
    if (mask != null) in.add(mask);
    Map<String, Attr> attrs = Attrs.of("q_num_heads", a.heads(), "kv_num_heads", a.heads(), "scale", a.scale(),
        "is_causal", a.mask().kind() == AttentionMask.Kind.CAUSAL ? 1 : 0);
    Value out = b.node(Node.ONNX, "Attention", in, attrs, 1).get(0);
    return new Fused(out, null, null, null, "Attention");
  }

  /**
   * The scaled q per head [B,H,T,dk] from the fused projection, for the key_shift term that still reads it:
   * Reshape [B,T,H,dk], scale, Transpose (which cancels against the key_shift's own Transpose after legalization).
   */
  private static Value queryHeads(OnnxBuilder b, Value q, ReturnnSelfAttention a) {
    Value split = b.reshape(q, b.constLongs(0, 0, a.heads(), a.dk()));
    Value scaled = b.op("Mul", split, b.scalar(DType.FLOAT, a.scale()));
    return b.transpose(scaled, 0, 2, 1, 3);
  }

  /**
   * The shape of a tensor of the unfused layer from its symbolic dims ({@link ReturnnSelfAttention#dims}), for the
   * Shapes other layers take of such tensors ({@code tf.shape(energy)}): B and T from the input, K = T plus the
   * previous state's frames.
   */
  static Value shape(Graph g, int opset, ReturnnSelfAttention a, Object[] dims, DType outType) {
    OnnxBuilder b = new OnnxBuilder(g, opset, a.scope() + "/fused_shape", a.match().rootNode().tfName());
    Value sx = b.shapeOf(typed(a.x(), DType.FLOAT));
    Value batch = b.slice(sx, new long[] {0}, new long[] {1}, new long[] {0}, null);
    Value time = b.slice(sx, new long[] {1}, new long[] {2}, new long[] {0}, null);
    List<Value> parts = new ArrayList<>();
    for (Object d : dims) {
      if (d instanceof Long c) {
        parts.add(b.constLongs(c));
        continue;
      }
      parts.add(switch ((ReturnnSelfAttention.Dim) d) {
        case B -> batch;
        case T -> time;
        case BT -> b.op("Mul", batch, time);
        case K -> a.pastKey() == null ? time : b.op("Add", time,
            b.slice(b.shapeOf(typed(a.pastKey(), DType.FLOAT)), new long[] {2}, new long[] {3}, new long[] {0}, null));
      });
    }
    return b.cast(b.concat(parts, 0), outType);
  }

  static Value typed(Value v, DType fallback) {
    return PreLegalTypes.typed(v, fallback);
  }
}
