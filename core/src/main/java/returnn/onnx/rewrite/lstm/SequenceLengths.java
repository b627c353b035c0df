package returnn.onnx.rewrite.lstm;

import returnn.onnx.ir.DType;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;

/**
 * Traces a time-major 0/1 mask back to the sequence lengths it was built from, so a fused LSTM can take them as
 * ONNX {@code sequence_lens}. RETURNN builds one mask per length tensor, {@code Transpose(tf.sequence_mask(L),
 * [1,0])}, and each NativeLstm2 layer casts it to float (RETURNN_GRAPHS.md "LSTM layers", step 2); TF's
 * LSTMBlockFusedCell casts first and transposes after. {@code tf.sequence_mask(L, maxlen)} itself is
 * {@code Less(Range(0, maxlen, 1), Cast(ExpandDims(L, -1)))}.
 */
final class SequenceLengths {
  private SequenceLengths() {}

  /**
   * The lengths behind a [T,B] mask, or null when the mask is anything else (then the rule declines: only a mask of
   * this form is a prefix mask, which is what {@code sequence_lens} means).
   */
  static Value fromTimeMajorMask(Value mask) {
    Value v = skipCasts(mask);
    Node transpose = TfPatterns.producer(v, "Transpose");
    if (transpose == null) return null;
    long[] perm = TfPatterns.constLongs(transpose.input(1));
    if (perm == null || perm.length != 2 || perm[0] != 1 || perm[1] != 0) return null;
    return fromBatchMajorMask(skipCasts(transpose.input(0)));
  }

  /** The lengths behind {@code tf.sequence_mask(L, maxlen)} ([B,T] bool), or null. */
  static Value fromBatchMajorMask(Value mask) {
    Node less = TfPatterns.producer(mask, "Less");
    if (less == null) return null;
    Node range = TfPatterns.producer(less.input(0), "Range");
    if (range == null) return null;
    Long start = TfPatterns.scalarInt(range.input(0));
    Long delta = TfPatterns.scalarInt(range.input(2));
    if (start == null || start != 0 || delta == null || delta != 1) return null;
    Value column = less.input(1);
    Node cast = TfPatterns.producer(column, "Cast");
    if (cast != null) column = cast.input(0);
    Node expand = TfPatterns.producer(column, "ExpandDims");
    if (expand == null) return null;
    Long axis = TfPatterns.scalarInt(expand.input(1));
    if (axis == null || (axis != -1 && axis != 1)) return null;
    Value lengths = TfPatterns.skipIdentities(expand.input(0));
    DType t = lengths.dtype();
    // Graph inputs carry their dtype; computed lengths (tf values) get theirs at legalization, integers in RETURNN.
    return t == null || t.isInteger() ? lengths : null;
  }

  /** Casts of a 0/1 mask keep its meaning (bool → float → int and back), so they are skipped. */
  static Value skipCasts(Value v) {
    while (true) {
      Node cast = TfPatterns.producer(v, "Cast");
      if (cast == null) return TfPatterns.skipIdentities(v);
      v = cast.input(0);
    }
  }
}
