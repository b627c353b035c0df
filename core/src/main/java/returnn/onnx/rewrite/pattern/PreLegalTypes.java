package returnn.onnx.rewrite.pattern;

import returnn.onnx.ir.DType;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;

/**
 * Helpers for rules that rewrite before legalization. Values of tf-dialect nodes carry no element type until their
 * node is legalized, but the TF node's attributes say what it is; ONNX nodes a rule builds on such values need it
 * for type inference (the Legalizer later rewires the inputs and keeps the types).
 */
public final class PreLegalTypes {
  private PreLegalTypes() {}

  /** The element type of {@code v}: its own, else from its TF producer's attributes ({@code T}, {@code dtype}...), else null. */
  public static DType type(Value v) {
    if (v.dtype() != null) return v.dtype();
    Node p = v.producer();
    if (p == null || !p.domain().equals(Node.TF)) return null;
    for (String key : new String[] {"DstT", "out_type", "dtype", "Tparams", "T"}) {
      DType t = p.attr(key) instanceof returnn.onnx.ir.Attr.Type a ? a.value() : null;
      if (t != null) return t;
    }
    return null;
  }

  /** Records {@code v}'s element type ({@link #type}, or {@code fallback} if the graph does not say) and returns it. */
  public static Value typed(Value v, DType fallback) {
    if (v.dtype() == null) {
      DType t = type(v);
      v.setDtype(t != null ? t : fallback);
    }
    return v;
  }
}
