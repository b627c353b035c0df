package returnn.onnx.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/** Data-movement and reduction evaluation for constant folding (ONNX semantics). */
final class DataMovement {
  private DataMovement() {}

  static NdArray concat(List<NdArray> xs, long axisAttr) {
    int rank = xs.get(0).shape.length;
    int axis = Shapes.normAxis(axisAttr, rank);
    long[] shape = xs.get(0).shape.clone();
    shape[axis] = 0;
    for (NdArray x : xs) shape[axis] += x.shape[axis];
    long outer = 1;
    for (int i = 0; i < axis; i++) outer *= shape[i];
    List<Integer> src = new ArrayList<>();
    List<Integer> which = new ArrayList<>();
    for (long o = 0; o < outer; o++) {
      for (int k = 0; k < xs.size(); k++) {
        NdArray x = xs.get(k);
        long inner = 1;
        for (int i = axis; i < rank; i++) inner *= x.shape[i];
        for (long j = 0; j < inner; j++) {
          src.add((int) (o * inner + j));
          which.add(k);
        }
      }
    }
    boolean fl = xs.get(0).floating();
    int n = src.size();
    if (fl) {
      double[] r = new double[n];
      for (int i = 0; i < n; i++) r[i] = xs.get(which.get(i)).getD(src.get(i));
      return NdArray.doubles(xs.get(0).dtype, shape, r);
    }
    long[] r = new long[n];
    for (int i = 0; i < n; i++) r[i] = xs.get(which.get(i)).getL(src.get(i));
    return NdArray.longs(xs.get(0).dtype, shape, r);
  }

  static NdArray unsqueeze(NdArray x, long[] axes) {
    int outRank = x.shape.length + axes.length;
    boolean[] inserted = new boolean[outRank];
    for (long a : axes) inserted[Shapes.normAxis(a, outRank)] = true;
    long[] shape = new long[outRank];
    int k = 0;
    for (int i = 0; i < outRank; i++) shape[i] = inserted[i] ? 1 : x.shape[k++];
    return new NdArray(x.dtype, shape, x.l, x.d);
  }

  static NdArray squeeze(NdArray x, long[] axes) {
    List<Long> shape = new ArrayList<>();
    boolean[] drop = new boolean[x.shape.length];
    if (axes == null) {
      for (int i = 0; i < drop.length; i++) drop[i] = x.shape[i] == 1;
    } else {
      for (long a : axes) drop[Shapes.normAxis(a, x.shape.length)] = true;
    }
    for (int i = 0; i < drop.length; i++) if (!drop[i]) shape.add(x.shape[i]);
    return new NdArray(x.dtype, shape.stream().mapToLong(Long::longValue).toArray(), x.l, x.d);
  }

  static NdArray reshape(NdArray x, long[] target, boolean allowZero) {
    long[] shape = resolveReshape(x.shape, target, allowZero);
    return new NdArray(x.dtype, shape, x.l, x.d);
  }

  /** ONNX Reshape: 0 copies the input dim unless allowzero; one -1 is inferred. */
  static long[] resolveReshape(long[] in, long[] target, boolean allowZero) {
    long[] shape = target.clone();
    int infer = -1;
    long known = 1;
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] == 0 && !allowZero) shape[i] = in[i];
      if (shape[i] == -1) {
        if (infer >= 0) throw new IllegalArgumentException("two -1 in reshape");
        infer = i;
      } else {
        known *= shape[i];
      }
    }
    long total = Tensor.count(in);
    if (infer >= 0) shape[infer] = known == 0 ? 0 : total / known;
    if (Tensor.count(shape) != total) throw new IllegalArgumentException("reshape " + Arrays.toString(in) + " to " + Arrays.toString(target));
    return shape;
  }

  static NdArray gather(NdArray x, NdArray idx, long axisAttr) {
    int axis = Shapes.normAxis(axisAttr, x.shape.length);
    long[] ishape = idx.shape;
    List<Long> shape = new ArrayList<>();
    for (int i = 0; i < axis; i++) shape.add(x.shape[i]);
    for (long s : ishape) shape.add(s);
    for (int i = axis + 1; i < x.shape.length; i++) shape.add(x.shape[i]);
    long outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= x.shape[i];
    for (int i = axis + 1; i < x.shape.length; i++) inner *= x.shape[i];
    long dim = x.shape[axis];
    int ni = idx.size();
    int[] src = new int[(int) (outer * ni * inner)];
    int p = 0;
    for (long o = 0; o < outer; o++) {
      for (int k = 0; k < ni; k++) {
        long j = idx.getL(k);
        if (j < 0) j += dim;
        if (j < 0 || j >= dim) throw new IllegalArgumentException("gather index out of range");
        for (long q = 0; q < inner; q++) src[p++] = (int) ((o * dim + j) * inner + q);
      }
    }
    return x.take(shape.stream().mapToLong(Long::longValue).toArray(), src);
  }

  static NdArray slice(NdArray x, long[] starts, long[] ends, long[] axes, long[] steps) {
    int r = x.shape.length;
    long[] st = new long[r], en = x.shape.clone(), sp = new long[r];
    Arrays.fill(sp, 1);
    for (int k = 0; k < starts.length; k++) {
      int ax = axes == null ? k : Shapes.normAxis(axes[k], r);
      long dim = x.shape[ax];
      long step = steps == null ? 1 : steps[k];
      long[] se = Shapes.sliceBounds(dim, starts[k], ends[k], step);
      st[ax] = se[0];
      en[ax] = se[1];
      sp[ax] = step;
    }
    long[] shape = new long[r];
    for (int i = 0; i < r; i++) {
      long len = sp[i] > 0 ? (en[i] - st[i] + sp[i] - 1) / sp[i] : (st[i] - en[i] - sp[i] - 1) / -sp[i];
      shape[i] = Math.max(0, len);
    }
    long[] xs = Shapes.strides(x.shape);
    long[] os = Shapes.strides(shape);
    int n = (int) Tensor.count(shape);
    int[] src = new int[n];
    for (int i = 0; i < n; i++) {
      long idx = 0;
      for (int k = 0; k < r; k++) idx += (st[k] + ((i / os[k]) % shape[k]) * sp[k]) * xs[k];
      src[i] = (int) idx;
    }
    return x.take(shape, src);
  }

  static NdArray reduce(String op, NdArray x, long[] axes, boolean keep) {
    int r = x.shape.length;
    boolean[] red = new boolean[r];
    if (axes == null || axes.length == 0) Arrays.fill(red, true);
    else for (long a : axes) red[Shapes.normAxis(a, r)] = true;
    long[] full = new long[r];
    List<Long> outShape = new ArrayList<>();
    for (int i = 0; i < r; i++) {
      full[i] = red[i] ? 1 : x.shape[i];
      if (!red[i] || keep) outShape.add(full[i]);
    }
    int n = (int) Tensor.count(full);
    double[] acc = new double[n];
    double init = switch (op) {
      case "ReduceProd" -> 1;
      case "ReduceMax" -> Double.NEGATIVE_INFINITY;
      case "ReduceMin" -> Double.POSITIVE_INFINITY;
      default -> 0;
    };
    Arrays.fill(acc, init);
    long[] xs = Shapes.strides(x.shape);
    long[] fs = Shapes.strides(full);
    for (int i = 0; i < x.size(); i++) {
      int o = 0;
      for (int k = 0; k < r; k++) if (!red[k]) o += (int) (((i / xs[k]) % x.shape[k]) * fs[k]);
      double v = x.getD(i);
      acc[o] = switch (op) {
        case "ReduceProd" -> acc[o] * v;
        case "ReduceMax" -> Math.max(acc[o], v);
        case "ReduceMin" -> Math.min(acc[o], v);
        default -> acc[o] + v;
      };
    }
    long[] shape = outShape.stream().mapToLong(Long::longValue).toArray();
    if (x.floating()) return NdArray.doubles(x.dtype, shape, acc);
    long[] l = new long[n];
    for (int i = 0; i < n; i++) l[i] = (long) acc[i];
    return NdArray.longs(x.dtype, shape, l);
  }

  static NdArray expand(NdArray x, long[] target) {
    long[] shape = Shapes.broadcast(x.shape, target);
    long[] os = Shapes.strides(shape);
    long[] xs = Shapes.strides(x.shape);
    int n = (int) Tensor.count(shape);
    int[] src = new int[n];
    for (int i = 0; i < n; i++) src[i] = NdArray.broadcastIndex(shape, os, x.shape, xs, i);
    return x.take(shape, src);
  }

  static NdArray tile(NdArray x, long[] reps) {
    int r = x.shape.length;
    long[] shape = new long[r];
    for (int i = 0; i < r; i++) shape[i] = x.shape[i] * reps[i];
    long[] os = Shapes.strides(shape);
    long[] xs = Shapes.strides(x.shape);
    int n = (int) Tensor.count(shape);
    int[] src = new int[n];
    for (int i = 0; i < n; i++) {
      long idx = 0;
      for (int k = 0; k < r; k++) idx += (((i / os[k]) % shape[k]) % x.shape[k]) * xs[k];
      src[i] = (int) idx;
    }
    return x.take(shape, src);
  }

  static NdArray transpose(NdArray x, long[] perm) {
    int r = x.shape.length;
    if (perm == null) {
      perm = new long[r];
      for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    }
    long[] shape = new long[r];
    for (int i = 0; i < r; i++) shape[i] = x.shape[(int) perm[i]];
    long[] xs = Shapes.strides(x.shape);
    long[] os = Shapes.strides(shape);
    int n = x.size();
    int[] src = new int[n];
    for (int i = 0; i < n; i++) {
      long idx = 0;
      for (int k = 0; k < r; k++) idx += ((i / os[k]) % shape[k]) * xs[(int) perm[k]];
      src[i] = (int) idx;
    }
    return x.take(shape, src);
  }

  static boolean isBool(NdArray x) {
    return x.dtype == DType.BOOL;
  }
}
