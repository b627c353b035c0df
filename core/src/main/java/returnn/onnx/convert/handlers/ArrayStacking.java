package returnn.onnx.convert.handlers;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/** Joining and splitting: Pack, Unpack, ConcatV2, Concat, Split, SplitV. */
final class ArrayStacking {
  private ArrayStacking() {}

  private static int rankOf(List<Value> vs) {
    for (Value v : vs) if (v.shape().hasRank()) return v.shape().rank();
    return -1;
  }

  private static long constAxis(ConversionContext ctx, int input) {
    TracedVector v = TracedVector.of(ctx.onnx(), ctx.input(input));
    if (v == null || v.size() != 1 || !v.allKnown()) throw ctx.error("the axis (input " + input + ") must be a constant scalar");
    return v.values()[0];
  }

  private static long normAxis(ConversionContext ctx, long axis, int rank) {
    if (rank < 0) return axis; // ONNX reads a negative axis from the end, as TF does
    if (axis < -rank || axis >= rank) throw ctx.error("axis " + axis + " out of range for rank " + rank);
    return axis < 0 ? axis + rank : axis;
  }

  /** Pack: stacks along a new axis; a negative axis counts in the output rank (-1 = new last dim). */
  static void pack(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    List<Value> in = new ArrayList<>();
    for (int i = 0; i < ctx.inputCount(); i++) in.add(ctx.input(i));
    int r = rankOf(in);
    long axis = normAxis(ctx, ctx.attrInt("axis", 0), r < 0 ? -1 : r + 1);
    List<Value> parts = new ArrayList<>();
    for (Value v : in) parts.add(b.unsqueeze(v, axis));
    ctx.setOutput(0, TracedVector.foldIfKnown(b, b.concat(parts, axis)));
  }

  /** Unpack: one Gather with a scalar index per used output (folds for constants, unlike Split). */
  static void unpack(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    long axis = normAxis(ctx, ctx.attrInt("axis", 0), x.shape().hasRank() ? x.shape().rank() : -1);
    long num = ctx.attrInt("num", ctx.outputCount());
    if (x.shape().hasRank()) {
      Dim d = x.shape().dim((int) (axis < 0 ? axis + x.shape().rank() : axis));
      if (d.isFixed() && d.value() != num) throw ctx.error("num " + num + " does not match dim " + axis + " of size " + d.value());
    }
    for (int i = 0; i < ctx.outputCount(); i++) {
      if (ctx.outputUsed(i)) ctx.setOutput(i, TracedVector.foldIfKnown(b, b.gather(x, b.scalarLong(i), axis)));
    }
  }

  static void concatV2(ConversionContext ctx) {
    int n = ctx.inputCount() - 1;
    concat(ctx, n, 0, constAxis(ctx, n));
  }

  /** Legacy Concat: the axis is the first input. */
  static void concatV1(ConversionContext ctx) {
    concat(ctx, ctx.inputCount() - 1, 1, constAxis(ctx, 0));
  }

  private static void concat(ConversionContext ctx, int n, int first, long axis) {
    OnnxBuilder b = ctx.onnx();
    List<Value> parts = new ArrayList<>();
    for (int i = 0; i < n; i++) parts.add(ctx.input(first + i));
    long ax = normAxis(ctx, axis, rankOf(parts));
    ctx.setOutput(0, TracedVector.foldIfKnown(b, b.concat(parts, ax)));
  }

  /** Split(split_dim, value): num_split equal pieces. */
  static void split(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(1);
    int r = x.shape().hasRank() ? x.shape().rank() : -1;
    long axis = normAxis(ctx, constAxis(ctx, 0), r);
    int num = (int) ctx.attrInt("num_split", ctx.outputCount());
    if (num == 1) {
      ctx.setOutput(0, x);
      return;
    }
    Dim d = r >= 0 ? x.shape().dim((int) axis) : Dim.UNKNOWN;
    if (d.isFixed()) {
      if (d.value() % num != 0) throw ctx.error("dim " + axis + " of size " + d.value() + " is not divisible by num_split " + num);
      long[] sizes = new long[num];
      Arrays.fill(sizes, d.value() / num);
      setAll(ctx, splitStatic(b, x, axis, sizes));
      return;
    }
    setAll(ctx, b.splitEqual(x, axis, num));
  }

  /** SplitV(value, size_splits, split_dim): one size may be -1 (the rest of the dim). */
  static void splitV(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    int r = x.shape().hasRank() ? x.shape().rank() : -1;
    long axis = normAxis(ctx, constAxis(ctx, 2), r);
    TracedVector sizes = TracedVector.of(b, ctx.input(1));
    if (sizes == null) throw ctx.error("size_splits must be a vector of static length");
    int num = sizes.size();
    if (num == 1) {
      ctx.setOutput(0, x);
      return;
    }
    if (!sizes.allKnown()) {
      // Run-time sizes pass through; a run-time -1 among them is not resolved.
      setAll(ctx, b.node(Node.ONNX, "Split", List.of(x, sizes.all64()), Attrs.of("axis", axis), num));
      return;
    }
    long[] s = sizes.values();
    int minus = -1;
    long known = 0;
    for (int i = 0; i < num; i++) {
      if (s[i] == -1) {
        if (minus >= 0) throw ctx.error("size_splits " + Arrays.toString(s) + " has more than one -1");
        minus = i;
      } else if (s[i] < 0) {
        throw ctx.error("size_splits " + Arrays.toString(s) + " has a negative size");
      } else {
        known += s[i];
      }
    }
    Dim d = r >= 0 ? x.shape().dim((int) axis) : Dim.UNKNOWN;
    if (minus >= 0 && d.isFixed()) s[minus] = d.value() - known;
    if (minus < 0 || d.isFixed()) {
      setAll(ctx, splitStatic(b, x, axis, s));
      return;
    }
    Value dimV = b.gather(b.shapeOf(x), b.constLongs(axis), 0);
    List<Value> parts = new ArrayList<>();
    for (int i = 0; i < num; i++) parts.add(i == minus ? b.op("Sub", dimV, b.constLongs(known)) : b.constLongs(s[i]));
    setAll(ctx, b.node(Node.ONNX, "Split", List.of(x, b.concat(parts, 0)), Attrs.of("axis", axis), num));
  }

  /** Constant inputs are sliced piece by piece so each piece folds; others get one Split. */
  private static List<Value> splitStatic(OnnxBuilder b, Value x, long axis, long[] sizes) {
    if (!x.isConstant()) return b.split(x, axis, sizes);
    List<Value> outs = new ArrayList<>();
    long off = 0;
    for (long sz : sizes) {
      outs.add(b.slice(x, new long[] {off}, new long[] {off + sz}, new long[] {axis}, null));
      off += sz;
    }
    return outs;
  }

  private static void setAll(ConversionContext ctx, List<Value> outs) {
    for (int i = 0; i < outs.size(); i++) ctx.setOutput(i, outs.get(i));
  }
}
