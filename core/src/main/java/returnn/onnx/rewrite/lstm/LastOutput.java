package returnn.onnx.rewrite.lstm;

import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;

/**
 * RETURNN's re-derivation of the final h from y ({@code _lstm_last_output} in returnn/tf/native_op.py): per sequence,
 * the last frame the mask marks (the first for a backward LSTM) is found with Range / SelectV2 / Max (Min), clipped,
 * gathered from y with GatherNd, and replaced by y0 where the mask marks no frame:
 *
 * <pre>
 *   idx   = SelectV2(mask, Range(0, T, 1)[:, None], -1 or T)      [T,B]
 *   last  = Max(idx[start::step], axis 0)  (Min backward)         [B]
 *   h     = GatherNd(y, Pack([clip(last, 0, T-1), Range(B)], -1))
 *   final = SelectV2((last >= 0 && last < T)[:, None], h, y0)
 * </pre>
 *
 * With a sequence mask this is y at frame len-1 (frame 0 backward) for len > 0, and y0 otherwise, i.e. the fused
 * LSTM's Y_h. The match is strict (same mask lengths, right reduction for the direction, the validity test on the
 * same index); anything else stays as it is and is converted op by op.
 */
final class LastOutput {
  private LastOutput() {}

  /** The final-h value computed from {@code y} this way, or null. */
  static Value find(Value y, Value y0, Value lengths, boolean forward) {
    for (Value.Use u : y.uses()) {
      Node gather = u.node();
      if (u.index() != 0 || !gather.is(Node.TF, "GatherNd")) continue;
      Node last = lastIndex(gather.input(1), lengths, forward);
      if (last == null) continue;
      for (Value.Use g : gather.output(0).uses()) {
        Node select = g.node();
        if (g.index() != 1 || !(select.is(Node.TF, "SelectV2") || select.is(Node.TF, "Select"))) continue;
        if (!TfPatterns.same(select.input(2), y0) || !isValid(select.input(0), last)) continue;
        return select.output(0);
      }
    }
    return null;
  }

  /** {@code Pack([clip(last), batch range], axis -1)} → the Max/Min node computing {@code last}. */
  private static Node lastIndex(Value indices, Value lengths, boolean forward) {
    Node pack = TfPatterns.producer(indices, "Pack");
    if (pack == null || pack.inputs().size() != 2) return null;
    long axis = pack.intAttr("axis", 0);
    if (axis != -1 && axis != 1) return null;
    if (!isRangeFromZero(SequenceLengths.skipCasts(pack.input(1)))) return null;
    Value t = pack.input(0);
    // clip_by_value is Minimum + Maximum in TF 2 (ClipByValue in older graphs); clipping a valid index is a no-op.
    for (int k = 0; k < 2; k++) {
      Node clip = TfPatterns.producer(t, "Minimum", "Maximum", "ClipByValue");
      if (clip == null) break;
      t = clip.input(0);
    }
    Node reduce = TfPatterns.producer(t, forward ? "Max" : "Min");
    if (reduce == null || reduce.boolAttr("keep_dims", false)) return null;
    long[] axes = TfPatterns.constLongs(reduce.input(1));
    if (axes == null || axes.length != 1 || axes[0] != 0) return null;
    return isMaskedTimeIndex(reduce.input(0), lengths, forward) ? reduce : null;
  }

  /** {@code SelectV2(mask, Range(0,T,1)[:, None], fill)}, maybe reordered by a full {@code [start::step]} slice. */
  private static boolean isMaskedTimeIndex(Value v, Value lengths, boolean forward) {
    Node slice = TfPatterns.producer(v, "StridedSlice");
    if (slice != null) {
      // A permutation of all frames does not change a Max/Min over time; anything dropping frames would.
      long[] strides = TfPatterns.constLongs(slice.input(3));
      if (strides == null || strides.length != 1 || Math.abs(strides[0]) != 1 || slice.intAttr("end_mask", 0) != 1
          || slice.intAttr("shrink_axis_mask", 0) != 0 || slice.intAttr("new_axis_mask", 0) != 0) {
        return false;
      }
      long[] begin = TfPatterns.constLongs(slice.input(1));
      boolean fromEdge = slice.intAttr("begin_mask", 0) == 1
          || (begin != null && begin[0] == (strides[0] > 0 ? 0 : -1))
          || (strides[0] < 0 && isLastFrame(slice.input(1)));
      if (!fromEdge) return false;
      v = slice.input(0);
    }
    Node select = TfPatterns.producer(v, "SelectV2", "Select");
    if (select == null || !TfPatterns.same(SequenceLengths.fromTimeMajorMask(select.input(0)), lengths)) return false;
    Value column = select.input(1);
    Node expand = TfPatterns.producer(column, "ExpandDims", "StridedSlice");
    if (expand == null) return false;
    if (expand.op().equals("StridedSlice") && expand.intAttr("new_axis_mask", 0) != 2) return false;
    if (expand.op().equals("ExpandDims")) {
      Long axis = TfPatterns.scalarInt(expand.input(1));
      if (axis == null || (axis != 1 && axis != -1)) return false;
    }
    if (!isRangeFromZero(expand.input(0))) return false;
    Long fill = TfPatterns.scalarInt(select.input(2));
    // Forward: unmarked frames are -1 (below every frame); backward: T (above every frame), computed from shape.
    return forward ? fill != null && fill == -1 : TfPatterns.producer(select.input(2), "StridedSlice") != null;
  }

  /** {@code Pack([T - 0 - 1])} or {@code T - 1}: the start of RETURNN's backward slice. */
  private static boolean isLastFrame(Value begin) {
    Node pack = TfPatterns.producer(begin, "Pack");
    Value v = pack != null && pack.inputs().size() == 1 ? pack.input(0) : begin;
    Node sub = TfPatterns.producer(v, "Sub");
    if (sub == null || !Long.valueOf(1).equals(TfPatterns.scalarInt(sub.input(1)))) return false;
    Node inner = TfPatterns.producer(sub.input(0), "Sub");
    Value t = inner != null && Long.valueOf(0).equals(TfPatterns.scalarInt(inner.input(1))) ? inner.input(0) : sub.input(0);
    return TfPatterns.producer(t, "StridedSlice") != null;
  }

  private static boolean isRangeFromZero(Value v) {
    Node range = TfPatterns.producer(v, "Range");
    return range != null && Long.valueOf(0).equals(TfPatterns.scalarInt(range.input(0)))
        && Long.valueOf(1).equals(TfPatterns.scalarInt(range.input(2)));
  }

  /** {@code (last >= 0 && last < T)[:, None]} on the same {@code last}. */
  private static boolean isValid(Value cond, Node last) {
    Node expand = TfPatterns.producer(cond, "ExpandDims", "StridedSlice", "Reshape");
    if (expand == null) return false;
    Node and = TfPatterns.producer(expand.input(0), "LogicalAnd");
    if (and == null) return false;
    boolean lower = false;
    boolean upper = false;
    for (Value side : and.inputs()) {
      Node cmp = TfPatterns.producer(side, "GreaterEqual", "Less");
      if (cmp == null || cmp.input(0).producer() != last) return false;
      if (cmp.op().equals("GreaterEqual")) lower = Long.valueOf(0).equals(TfPatterns.scalarInt(cmp.input(1)));
      else upper = TfPatterns.producer(cmp.input(1), "StridedSlice") != null;
    }
    return lower && upper;
  }
}
