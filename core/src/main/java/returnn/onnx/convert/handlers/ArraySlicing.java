package returnn.onnx.convert.handlers;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/**
 * StridedSlice and Slice as ONNX Slice (+ Squeeze for shrunk axes, Unsqueeze for new axes). Masked bounds become
 * INT64_MAX/INT64_MIN sentinels, which ONNX clamps to the dim the way TF's masks select it.
 */
final class ArraySlicing {
  static final long MAX = Long.MAX_VALUE;
  static final long MIN = Long.MIN_VALUE;

  private ArraySlicing() {}

  /** One sliced input axis: its axis number (negative counts from the end) and start/end/step. */
  private record Cut(long axis, Value start, Value end, long step) {}

  private static boolean bit(long mask, int i) {
    return (mask >> i & 1) != 0;
  }

  /**
   * TF's sparse-to-dense spec (tensorflow/core/util/strided_slice_op.cc): entries before the ellipsis address
   * input dims from the front, entries after it from the back; new-axis entries consume no input dim; without an
   * ellipsis one is implied at the end. A shrink entry takes begin as an index (its begin mask and end are ignored:
   * {@code x[-1]} has end 0) and needs a positive stride.
   */
  static void stridedSlice(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    TracedVector begin = TracedVector.of(b, ctx.input(1));
    TracedVector end = TracedVector.of(b, ctx.input(2));
    TracedVector strideVec = TracedVector.of(b, ctx.input(3));
    if (strideVec == null || !strideVec.allKnown()) {
      throw ctx.error("strides (input 3) are computed at run time; their signs decide the slice semantics, so they must be constant");
    }
    long[] strides = strideVec.values();
    int n = strides.length;
    if (begin == null || end == null || begin.size() != n || end.size() != n) {
      throw ctx.error("begin, end and strides must be vectors of one static length (strides has " + n + ")");
    }
    long beginMask = ctx.attrInt("begin_mask", 0), endMask = ctx.attrInt("end_mask", 0);
    long ellipsisMask = ctx.attrInt("ellipsis_mask", 0), newAxisMask = ctx.attrInt("new_axis_mask", 0);
    long shrinkMask = ctx.attrInt("shrink_axis_mask", 0);
    if ((ellipsisMask & (ellipsisMask - 1)) != 0) throw ctx.error("multiple ellipses in slice spec (ellipsis_mask " + ellipsisMask + ")");
    int ell = n;
    for (int i = 0; i < n; i++) if (bit(ellipsisMask, i)) ell = i;

    Shape xs = x.shape();
    int rank = xs.hasRank() ? xs.rank() : -1;
    int usedBefore = 0, usedAfter = 0, newAxes = 0, shrinks = 0;
    for (int i = 0; i < n; i++) {
      if (i == ell) continue;
      if (bit(newAxisMask, i)) newAxes++;
      else {
        if (i < ell) usedBefore++;
        else usedAfter++;
        if (bit(shrinkMask, i)) shrinks++;
      }
    }
    if (rank >= 0 && usedBefore + usedAfter > rank) {
      throw ctx.error("slice spec indexes " + (usedBefore + usedAfter) + " dims of an input of rank " + rank);
    }
    int outRank = rank < 0 ? -1 : rank - shrinks + newAxes;

    // Input axis and output position of every entry; after the ellipsis both count from the end.
    long[] inAxis = new long[n];
    List<Long> newAxisPos = new ArrayList<>();
    int a = 0, p = 0;
    for (int i = 0; i < ell && i < n; i++) {
      if (bit(newAxisMask, i)) newAxisPos.add((long) p++);
      else {
        inAxis[i] = a++;
        if (!bit(shrinkMask, i)) p++;
      }
    }
    a = -1;
    p = -1;
    for (int i = n - 1; i > ell; i--) {
      if (bit(newAxisMask, i)) newAxisPos.add((long) p--);
      else {
        inAxis[i] = a--;
        if (!bit(shrinkMask, i)) p--;
      }
    }
    if (rank >= 0) {
      for (int i = 0; i < n; i++) if (inAxis[i] < 0) inAxis[i] += rank;
      newAxisPos.replaceAll(q -> q < 0 ? q + outRank : q);
    }

    List<Cut> cuts = new ArrayList<>();
    List<Long> squeezeAxes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      if (i == ell || bit(newAxisMask, i)) continue;
      long step = strides[i];
      if (step == 0) throw ctx.error("strides[" + i + "] is 0");
      Dim dim = dimAt(xs, inAxis[i]);
      if (bit(shrinkMask, i)) {
        if (step < 0) throw ctx.error("strides[" + i + "] is " + step + " on a shrunk (indexed) axis; TF requires a positive stride");
        squeezeAxes.add(inAxis[i]);
        Long bi = begin.known(i);
        if (bi != null) {
          cuts.add(new Cut(inAxis[i], b.constLongs(bi), b.constLongs(bi == -1 ? MAX : bi + 1), 1));
        } else {
          Value s = begin.at(i);
          Value e = b.op("Where", b.op("Equal", s, b.constLongs(-1)), b.constLongs(MAX), b.op("Add", s, b.constLongs(1)));
          cuts.add(new Cut(inAxis[i], s, e, 1));
        }
        continue;
      }
      boolean bMasked = bit(beginMask, i), eMasked = bit(endMask, i);
      Long bi = bMasked ? (Long) (step > 0 ? 0L : MAX) : begin.known(i);
      Long ei = eMasked ? (Long) (step > 0 ? MAX : MIN) : end.known(i);
      if (step < 0 && bi != null && !bMasked && dim.isFixed() && bi < -dim.value()) {
        // TF clamps such a begin to -1 (nothing selected); ONNX would clamp it to 0 and select element 0.
        bi = 0L;
        ei = 0L;
      }
      boolean fullEnd = ei != null && (ei == MAX || (dim.isFixed() && ei >= dim.value()));
      if (step == 1 && bi != null && bi == 0 && fullEnd) continue;
      Value s = bi != null ? b.constLongs(bi) : begin.at(i);
      Value e = ei != null ? b.constLongs(ei) : end.at(i);
      if (step < 0 && !bMasked && !dim.isFixed() && (bi == null || bi < 0)) {
        // The same on a dim known only at run time: a begin below -dim selects nothing in TF, element 0 in ONNX.
        // Where begin + dim < 0, start and end both become 0 (with a negative step: an empty slice).
        Value d = b.gather(b.shapeOf(x), b.constLongs(inAxis[i]), 0);
        Value inside = b.op("Not", b.op("Less", b.op("Add", s, d), b.constLongs(0)));
        s = b.op("Where", inside, s, b.constLongs(0));
        e = b.op("Where", inside, e, b.constLongs(0));
      }
      cuts.add(new Cut(inAxis[i], s, e, step));
    }

    Value y = x;
    if (cuts.size() == 1 && squeezeAxes.size() == 1) {
      // A lone index (x[i], x[:, -1], tf.shape(x)[0]) is one Gather; negative i counts from the end in both.
      y = b.gather(x, b.squeeze(cuts.get(0).start(), 0), cuts.get(0).axis());
      squeezeAxes.clear();
    } else if (!cuts.isEmpty()) {
      y = slice(b, x, cuts);
    }
    if (!squeezeAxes.isEmpty()) y = b.squeeze(y, toArray(squeezeAxes));
    if (!newAxisPos.isEmpty()) y = b.unsqueeze(y, toArray(newAxisPos));
    ctx.setOutput(0, TracedVector.foldIfKnown(b, y));
  }

  private static Dim dimAt(Shape s, long axis) {
    if (!s.hasRank() || axis < 0 || axis >= s.rank()) return Dim.UNKNOWN;
    return s.dim((int) axis);
  }

  private static Value slice(OnnxBuilder b, Value x, List<Cut> cuts) {
    List<Value> starts = new ArrayList<>(), ends = new ArrayList<>();
    long[] axes = new long[cuts.size()], steps = new long[cuts.size()];
    boolean unitSteps = true;
    for (int k = 0; k < cuts.size(); k++) {
      Cut c = cuts.get(k);
      starts.add(c.start());
      ends.add(c.end());
      axes[k] = c.axis();
      steps[k] = c.step();
      if (c.step() != 1) unitSteps = false;
    }
    List<Value> in = new ArrayList<>(List.of(x, TracedVector.join(b, starts), TracedVector.join(b, ends), b.constLongs(axes)));
    if (!unitSteps) in.add(b.constLongs(steps));
    return b.op("Slice", in, Map.of());
  }

  private static long[] toArray(List<Long> l) {
    return l.stream().mapToLong(Long::longValue).toArray();
  }

  /** TF Slice(x, begin, size): size -1 means to the end of the dim; begin is never negative in TF. */
  static void slice(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    TracedVector begin = TracedVector.of(b, ctx.input(1));
    TracedVector size = TracedVector.of(b, ctx.input(2));
    if (begin == null || size == null || begin.size() != size.size()) {
      throw ctx.error("begin and size must be vectors of one static length");
    }
    int n = begin.size();
    Shape xs = x.shape();
    if (xs.hasRank() && xs.rank() != n) throw ctx.error("begin has " + n + " entries for an input of rank " + xs.rank());
    Value y;
    if (begin.allKnown() && size.allKnown()) {
      long[] bv = begin.values(), sv = size.values();
      List<Cut> cuts = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Dim dim = dimAt(xs, i);
        boolean toEnd = sv[i] == -1 || (dim.isFixed() && bv[i] + sv[i] == dim.value());
        if (bv[i] == 0 && toEnd) continue;
        cuts.add(new Cut(i, b.constLongs(bv[i]), b.constLongs(sv[i] == -1 ? MAX : bv[i] + sv[i]), 1));
      }
      y = cuts.isEmpty() ? x : slice(b, x, cuts);
    } else {
      Value b64 = begin.all64(), s64 = size.all64();
      Value e = b.op("Where", b.op("Equal", s64, b.constLongs(-1)), b.constLongs(MAX), b.op("Add", b64, s64));
      long[] axes = new long[n];
      for (int i = 0; i < n; i++) axes[i] = i;
      y = b.op("Slice", List.of(x, b64, e, b.constLongs(axes)), Map.of());
    }
    ctx.setOutput(0, TracedVector.foldIfKnown(b, y));
  }
}
