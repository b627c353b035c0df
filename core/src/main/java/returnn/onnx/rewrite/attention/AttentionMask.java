package returnn.onnx.rewrite.attention;

import static returnn.onnx.rewrite.pattern.Pattern.any;
import static returnn.onnx.rewrite.pattern.Pattern.either;
import static returnn.onnx.rewrite.pattern.Pattern.op;
import static returnn.onnx.rewrite.pattern.Pattern.optional;
import static returnn.onnx.rewrite.pattern.Pattern.scalar;

import java.util.function.Predicate;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.pattern.Match;
import returnn.onnx.rewrite.pattern.Matcher;
import returnn.onnx.rewrite.pattern.Pattern;

/**
 * The masks RETURNN's self-attention applies to its energies (RETURNN_GRAPHS.md "Self-attention" step 8), recognized
 * from the SelectV2 condition: key padding ({@code tf.sequence_mask(lengths, T)} reshaped to [B,1,1,T]) and causal
 * ({@code MatrixBandPart(ones [1,1,T,T], -1, 0)}, with ones for the frames of a previous state concatenated in front).
 *
 * @param lengths key lengths [B] for {@link Kind#KEY_PADDING}, else null
 * @param lengthsType their element type
 */
record AttentionMask(Kind kind, Value lengths, DType lengthsType) {
  enum Kind { NONE, KEY_PADDING, CAUSAL, CAUSAL_AFTER_STATE }

  /** A recognized mask, or why the condition is not one. */
  record Classified(AttentionMask mask, String reason) {}

  static final AttentionMask NONE = new AttentionMask(Kind.NONE, null, null);

  private static final Pattern SEQUENCE_MASK = op("Less",
      op("Range", scalar(0), any("maxlen"), scalar(1)),
      optional("Cast", op("ExpandDims", any("lengths"), scalar(-1)).as("expand")));
  private static final Pattern.Op KEY_PADDING = op("Reshape", SEQUENCE_MASK, any("shape"));
  private static final Pattern ONES = either(op("Fill", any(), scalar(1)),
      Pattern.constant(null, "a constant of ones", AttentionMask::allOnes));
  private static final Pattern.Op LOWER_TRIANGLE = op("MatrixBandPart", ONES, scalar(-1), scalar(0));
  private static final Pattern.Op AFTER_STATE = op("ConcatV2", ONES, LOWER_TRIANGLE, either(scalar(-1), scalar(3)));

  /**
   * @param isKeyLength whether a scalar is the number of keys (the sequence mask's maxlen must be, or the mask would
   *     not line up with the keys)
   */
  static Classified classify(Value cond, Predicate<Value> isKeyLength) {
    Matcher m = new Matcher(Node.TF);
    Matcher.Result pad = m.match(KEY_PADDING, cond);
    if (pad.matched()) {
      Match p = pad.match();
      if (!isB11T(p.value("shape"))) return new Classified(null, "the sequence mask is not reshaped to [B,1,1,T]");
      if (!isKeyLength.test(p.value("maxlen"))) {
        return new Classified(null, "the sequence mask's maxlen " + p.value("maxlen") + " is not the number of keys");
      }
      DType t = p.node("expand").typeAttr("T");
      return new Classified(new AttentionMask(Kind.KEY_PADDING, p.value("lengths"), t == null ? DType.INT32 : t), null);
    }
    if (m.match(LOWER_TRIANGLE, cond).matched()) return new Classified(new AttentionMask(Kind.CAUSAL, null, null), null);
    if (m.match(AFTER_STATE, cond).matched()) {
      return new Classified(new AttentionMask(Kind.CAUSAL_AFTER_STATE, null, null), null);
    }
    return new Classified(null, "the mask " + cond + " is neither a key padding mask (sequence_mask reshaped to [B,1,1,T]) "
        + "nor causal (MatrixBandPart(ones, -1, 0)); closest: " + pad.reason());
  }

  /** A [B,1,1,T] target: a constant, or a Pack of four scalars (RETURNN's dynamic shapes) with ones in the middle. */
  private static boolean isB11T(Value shape) {
    Value s = Matcher.resolve(shape);
    if (s.isConstant()) {
      Tensor t = s.constant();
      return t.size() == 4 && t.getLong(1) == 1 && t.getLong(2) == 1;
    }
    Node p = s.producer();
    if (p == null || !p.is(Node.TF, "Pack") || p.inputs().size() != 4) return false;
    for (int i = 1; i <= 2; i++) {
      Value d = Matcher.resolve(p.input(i));
      if (!d.isConstant() || d.constant().size() != 1 || d.constant().getLong(0) != 1) return false;
    }
    return true;
  }

  private static boolean allOnes(Tensor t) {
    if (!(t.dtype() == DType.BOOL || t.dtype().isInteger() || t.dtype().isFloating())) return false;
    for (long i = 0; i < t.size(); i++) if (t.getDouble(i) != 1) return false;
    return true;
  }
}
