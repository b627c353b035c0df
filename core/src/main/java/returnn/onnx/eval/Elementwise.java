package returnn.onnx.eval;

import returnn.onnx.ir.DType;

/** Elementwise evaluation for constant folding, with numpy broadcasting. */
final class Elementwise {
  private Elementwise() {}

  static NdArray unary(String op, NdArray x) {
    int n = x.size();
    if (op.equals("Identity")) return x;
    if (x.floating()) {
      double[] r = new double[n];
      for (int i = 0; i < n; i++) {
        double v = x.d[i];
        r[i] = switch (op) {
          case "Neg" -> -v;
          case "Abs" -> Math.abs(v);
          case "Floor" -> Math.floor(v);
          case "Ceil" -> Math.ceil(v);
          case "Round" -> Math.rint(v);
          case "Sqrt" -> Math.sqrt(v);
          case "Reciprocal" -> 1 / v;
          case "Exp" -> Math.exp(v);
          case "Log" -> Math.log(v);
          case "Tanh" -> Math.tanh(v);
          case "Sigmoid" -> 1 / (1 + Math.exp(-v));
          case "Relu" -> Math.max(v, 0);
          case "Sign" -> Math.signum(v);
          default -> throw new IllegalArgumentException(op);
        };
      }
      return NdArray.doubles(x.dtype, x.shape, r);
    }
    long[] r = new long[n];
    for (int i = 0; i < n; i++) {
      long v = x.l[i];
      r[i] = switch (op) {
        case "Neg" -> -v;
        case "Abs" -> Math.abs(v);
        case "Floor", "Ceil", "Round" -> v;
        case "Relu" -> Math.max(v, 0);
        case "Sign" -> Long.signum(v);
        case "Not" -> v == 0 ? 1 : 0;
        default -> throw new IllegalArgumentException(op);
      };
    }
    return NdArray.longs(x.dtype, x.shape, r);
  }

  static NdArray binary(String op, NdArray a, NdArray b, boolean fmod) {
    long[] shape = Shapes.broadcast(a.shape, b.shape);
    int n = (int) returnn.onnx.ir.Tensor.count(shape);
    long[] os = Shapes.strides(shape);
    long[] as = Shapes.strides(a.shape);
    long[] bs = Shapes.strides(b.shape);
    boolean cmp = switch (op) {
      case "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor" -> true;
      default -> false;
    };
    if (a.floating() || b.floating()) {
      double[] r = new double[n];
      long[] rb = cmp ? new long[n] : null;
      for (int i = 0; i < n; i++) {
        double x = a.getD(NdArray.broadcastIndex(shape, os, a.shape, as, i));
        double y = b.getD(NdArray.broadcastIndex(shape, os, b.shape, bs, i));
        if (cmp) {
          rb[i] = compare(op, Double.compare(x, y), x, y) ? 1 : 0;
          continue;
        }
        r[i] = switch (op) {
          case "Add" -> x + y;
          case "Sub" -> x - y;
          case "Mul" -> x * y;
          case "Div" -> x / y;
          case "Pow" -> Math.pow(x, y);
          case "Max" -> Math.max(x, y);
          case "Min" -> Math.min(x, y);
          case "Mod" -> x % y;
          default -> throw new IllegalArgumentException(op);
        };
        if (a.dtype == DType.FLOAT) r[i] = (float) r[i];
      }
      return cmp ? NdArray.longs(DType.BOOL, shape, rb) : NdArray.doubles(a.dtype, shape, r);
    }
    long[] r = new long[n];
    for (int i = 0; i < n; i++) {
      long x = a.l[NdArray.broadcastIndex(shape, os, a.shape, as, i)];
      long y = b.l[NdArray.broadcastIndex(shape, os, b.shape, bs, i)];
      if (cmp) {
        r[i] = switch (op) {
          case "And" -> (x != 0 && y != 0) ? 1 : 0;
          case "Or" -> (x != 0 || y != 0) ? 1 : 0;
          case "Xor" -> ((x != 0) ^ (y != 0)) ? 1 : 0;
          default -> compare(op, Long.compare(x, y), x, y) ? 1 : 0;
        };
        continue;
      }
      r[i] = switch (op) {
        case "Add" -> x + y;
        case "Sub" -> x - y;
        case "Mul" -> x * y;
        case "Div" -> x / y; // ONNX integer Div truncates, like Java
        case "Max" -> Math.max(x, y);
        case "Min" -> Math.min(x, y);
        case "Mod" -> fmod ? x % y : Math.floorMod(x, y);
        case "Pow" -> (long) Math.pow(x, y);
        default -> throw new IllegalArgumentException(op);
      };
      r[i] = wrap(a.dtype, r[i]);
    }
    return NdArray.longs(cmp ? DType.BOOL : a.dtype, shape, r);
  }

  private static boolean compare(String op, int c, double x, double y) {
    if (Double.isNaN(x) || Double.isNaN(y)) return false;
    return switch (op) {
      case "Equal" -> c == 0;
      case "Less" -> c < 0;
      case "LessOrEqual" -> c <= 0;
      case "Greater" -> c > 0;
      case "GreaterOrEqual" -> c >= 0;
      default -> throw new IllegalArgumentException(op);
    };
  }

  static long wrap(DType t, long v) {
    return switch (t) {
      case INT32 -> (int) v;
      case INT16 -> (short) v;
      case INT8 -> (byte) v;
      case UINT8 -> v & 0xff;
      case BOOL -> v != 0 ? 1 : 0;
      default -> v;
    };
  }

  /** ONNX Cast: float→int truncates toward zero; float→bool is nonzero (NaN → true). */
  static NdArray cast(NdArray x, DType to) {
    int n = x.size();
    if (to.isFloating()) {
      double[] r = new double[n];
      for (int i = 0; i < n; i++) r[i] = to == DType.FLOAT ? (float) x.getD(i) : x.getD(i);
      return NdArray.doubles(to, x.shape, r);
    }
    long[] r = new long[n];
    for (int i = 0; i < n; i++) {
      if (to == DType.BOOL) r[i] = x.floating() ? (x.d[i] != 0 || Double.isNaN(x.d[i]) ? 1 : 0) : (x.l[i] != 0 ? 1 : 0);
      else r[i] = wrap(to, x.floating() ? (long) x.d[i] : x.l[i]);
    }
    return NdArray.longs(to, x.shape, r);
  }

  static NdArray where(NdArray c, NdArray x, NdArray y) {
    long[] shape = Shapes.broadcast(Shapes.broadcast(c.shape, x.shape), y.shape);
    int n = (int) returnn.onnx.ir.Tensor.count(shape);
    long[] os = Shapes.strides(shape);
    long[] cs = Shapes.strides(c.shape);
    long[] xs = Shapes.strides(x.shape);
    long[] ys = Shapes.strides(y.shape);
    int[] src = new int[n];
    boolean[] fromX = new boolean[n];
    for (int i = 0; i < n; i++) {
      fromX[i] = c.l[NdArray.broadcastIndex(shape, os, c.shape, cs, i)] != 0;
      src[i] = fromX[i] ? NdArray.broadcastIndex(shape, os, x.shape, xs, i) : NdArray.broadcastIndex(shape, os, y.shape, ys, i);
    }
    if (x.floating()) {
      double[] r = new double[n];
      for (int i = 0; i < n; i++) r[i] = fromX[i] ? x.d[src[i]] : y.getD(src[i]);
      return NdArray.doubles(x.dtype, shape, r);
    }
    long[] r = new long[n];
    for (int i = 0; i < n; i++) r[i] = fromX[i] ? x.l[src[i]] : y.getL(src[i]);
    return NdArray.longs(x.dtype, shape, r);
  }

  static NdArray range(NdArray start, NdArray limit, NdArray delta) {
    if (start.floating()) {
      double s = start.d[0], l = limit.getD(0), dl = delta.getD(0);
      int n = (int) Math.max(0, Math.ceil((l - s) / dl));
      double[] r = new double[n];
      for (int i = 0; i < n; i++) r[i] = s + i * dl;
      return NdArray.doubles(start.dtype, new long[] {n}, r);
    }
    long s = start.l[0], l = limit.getL(0), dl = delta.getL(0);
    int n = (int) Math.max(0, Math.ceil((double) (l - s) / dl));
    long[] r = new long[n];
    for (int i = 0; i < n; i++) r[i] = s + i * dl;
    return NdArray.longs(start.dtype, new long[] {n}, r);
  }
}
