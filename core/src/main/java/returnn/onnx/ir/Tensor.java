package returnn.onnx.ir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * A constant tensor: dtype, shape and little-endian data. The data is either held (eager), a slice of a
 * memory-mapped checkpoint shard, or computed on first use (lazy), so weights are not copied until written.
 * String tensors hold their elements as byte arrays.
 */
public final class Tensor {
  private final DType dtype;
  private final long[] shape;
  private Supplier<ByteBuffer> source;
  private ByteBuffer data;
  private final List<byte[]> strings;

  private Tensor(DType dtype, long[] shape, ByteBuffer data, Supplier<ByteBuffer> source, List<byte[]> strings) {
    this.dtype = dtype;
    this.shape = shape.clone();
    this.data = data;
    this.source = source;
    this.strings = strings;
  }

  /** A tensor over little-endian bytes (not copied). */
  public static Tensor of(DType dtype, long[] shape, ByteBuffer data) {
    long n = count(shape);
    if (dtype.size > 0 && (n < 0 || n > Long.MAX_VALUE / dtype.size || data.remaining() != n * dtype.size)) {
      throw new IllegalArgumentException(
          "tensor of " + dtype + Arrays.toString(shape) + " needs " + n * dtype.size + " bytes, got " + data.remaining());
    }
    return new Tensor(dtype, shape, data.slice().order(ByteOrder.LITTLE_ENDIAN), null, null);
  }

  /** A tensor whose bytes are produced on first use. */
  public static Tensor lazy(DType dtype, long[] shape, Supplier<ByteBuffer> source) {
    return new Tensor(dtype, shape, null, source, null);
  }

  public static Tensor ofStrings(long[] shape, List<byte[]> values) {
    if (values.size() != count(shape)) throw new IllegalArgumentException("string tensor size mismatch");
    return new Tensor(DType.STRING, shape, null, null, List.copyOf(values));
  }

  public static Tensor ofFloats(long[] shape, float... v) {
    ByteBuffer b = alloc(v.length * 4L);
    b.asFloatBuffer().put(v);
    return of(DType.FLOAT, shape, b);
  }

  public static Tensor ofDoubles(long[] shape, double... v) {
    ByteBuffer b = alloc(v.length * 8L);
    b.asDoubleBuffer().put(v);
    return of(DType.DOUBLE, shape, b);
  }

  public static Tensor ofInts(long[] shape, int... v) {
    ByteBuffer b = alloc(v.length * 4L);
    b.asIntBuffer().put(v);
    return of(DType.INT32, shape, b);
  }

  public static Tensor ofLongs(long[] shape, long... v) {
    ByteBuffer b = alloc(v.length * 8L);
    b.asLongBuffer().put(v);
    return of(DType.INT64, shape, b);
  }

  public static Tensor ofBools(long[] shape, boolean... v) {
    ByteBuffer b = alloc(v.length);
    for (boolean x : v) b.put((byte) (x ? 1 : 0));
    b.flip();
    return of(DType.BOOL, shape, b);
  }

  public static Tensor scalarFloat(float v) {
    return ofFloats(new long[0], v);
  }

  public static Tensor scalarLong(long v) {
    return ofLongs(new long[0], v);
  }

  public static Tensor vectorLongs(long... v) {
    return ofLongs(new long[] {v.length}, v);
  }

  /** A tensor of the given dtype from double values (rounded/truncated as a cast would). */
  public static Tensor fromDoubles(DType dtype, long[] shape, double[] v) {
    int n = v.length;
    ByteBuffer b = alloc((long) n * dtype.size);
    for (int i = 0; i < n; i++) putDouble(b, dtype, i, v[i]);
    return of(dtype, shape, b);
  }

  /** A tensor of an integer or bool dtype from long values. */
  public static Tensor fromLongs(DType dtype, long[] shape, long[] v) {
    int n = v.length;
    ByteBuffer b = alloc((long) n * dtype.size);
    for (int i = 0; i < n; i++) putLong(b, dtype, i, v[i]);
    return of(dtype, shape, b);
  }

  public static ByteBuffer alloc(long bytes) {
    if (bytes < 0) throw new IllegalArgumentException("tensor of negative size " + bytes + " bytes");
    if (bytes > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("tensor of " + bytes + " bytes: over 2 GiB held in memory");
    requireHeap(bytes);
    return ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * Refuses, with an {@link IllegalArgumentException}, to go on when {@code bytes} more would not fit in the Java
   * heap: called before allocating what a file's shape asks for, instead of failing with OutOfMemoryError.
   */
  public static void requireHeap(long bytes) {
    if (bytes < 0) throw new IllegalArgumentException("negative size " + bytes + " bytes");
    // Refuse before the JVM throws OutOfMemoryError (which leaves the process in a state where anything may fail).
    Runtime rt = Runtime.getRuntime();
    long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    if (bytes > free) {
      System.gc();
      free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
      if (bytes > free) {
        throw new IllegalArgumentException("tensor of " + bytes + " bytes does not fit in the " + free
            + " bytes of free Java heap (raise -Xmx, or check the shape)");
      }
    }
  }

  /** Elements of a shape; a shape whose element count overflows a long is refused (never wraps around). */
  public static long count(long[] shape) {
    long n = 1;
    for (long s : shape) {
      try {
        n = Math.multiplyExact(n, s);
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has more elements than fit in 64 bits");
      }
    }
    return n;
  }

  public DType dtype() {
    return dtype;
  }

  public long[] shape() {
    return shape.clone();
  }

  public int rank() {
    return shape.length;
  }

  public long size() {
    return count(shape);
  }

  public long byteSize() {
    if (dtype == DType.STRING) {
      long n = 0;
      for (byte[] s : strings) n += s.length;
      return n;
    }
    return size() * dtype.size;
  }

  public boolean isLoaded() {
    return data != null || strings != null;
  }

  /** The little-endian bytes (a read-only view); forces a lazy tensor. */
  public synchronized ByteBuffer data() {
    if (dtype == DType.STRING) throw new IllegalStateException("string tensor has no flat data");
    if (data == null) {
      ByteBuffer b = source.get().slice().order(ByteOrder.LITTLE_ENDIAN);
      if (b.remaining() != size() * dtype.size) {
        throw new IllegalStateException("lazy tensor produced " + b.remaining() + " bytes, expected " + size() * dtype.size);
      }
      data = b;
      source = null;
    }
    return data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  public List<byte[]> strings() {
    if (strings == null) throw new IllegalStateException("not a string tensor");
    return strings;
  }

  public double getDouble(long i) {
    ByteBuffer b = data();
    int p = (int) (i * dtype.size);
    return switch (dtype) {
      case FLOAT -> b.getFloat(p);
      case DOUBLE -> b.getDouble(p);
      case INT32 -> b.getInt(p);
      case INT64 -> b.getLong(p);
      case INT16 -> b.getShort(p);
      case UINT16 -> b.getShort(p) & 0xffff;
      case INT8 -> b.get(p);
      case UINT8, BOOL -> b.get(p) & 0xff;
      case UINT32 -> b.getInt(p) & 0xffffffffL;
      case UINT64 -> b.getLong(p);
      case FLOAT16 -> halfToFloat(b.getShort(p));
      case BFLOAT16 -> Float.intBitsToFloat((b.getShort(p) & 0xffff) << 16);
      default -> throw new IllegalStateException("no numeric value for " + dtype);
    };
  }

  public long getLong(long i) {
    ByteBuffer b = data();
    int p = (int) (i * dtype.size);
    return switch (dtype) {
      case INT32 -> b.getInt(p);
      case INT64, UINT64 -> b.getLong(p);
      case INT16 -> b.getShort(p);
      case UINT16 -> b.getShort(p) & 0xffff;
      case INT8 -> b.get(p);
      case UINT8, BOOL -> b.get(p) & 0xff;
      case UINT32 -> b.getInt(p) & 0xffffffffL;
      default -> (long) getDouble(i);
    };
  }

  public double[] toDoubles() {
    double[] r = new double[(int) size()];
    for (int i = 0; i < r.length; i++) r[i] = getDouble(i);
    return r;
  }

  public long[] toLongs() {
    long[] r = new long[(int) size()];
    for (int i = 0; i < r.length; i++) r[i] = getLong(i);
    return r;
  }

  public float[] toFloats() {
    float[] r = new float[(int) size()];
    for (int i = 0; i < r.length; i++) r[i] = (float) getDouble(i);
    return r;
  }

  public int[] toInts() {
    int[] r = new int[(int) size()];
    for (int i = 0; i < r.length; i++) r[i] = (int) getLong(i);
    return r;
  }

  /** The same data under another shape of the same element count. */
  public Tensor reshape(long[] newShape) {
    if (count(newShape) != size()) throw new IllegalArgumentException("reshape changes element count");
    if (dtype == DType.STRING) return ofStrings(newShape, strings);
    if (data == null) {
      return lazy(dtype, newShape, () -> data());
    }
    return new Tensor(dtype, newShape, data, null, null);
  }

  static void putDouble(ByteBuffer b, DType t, int i, double v) {
    int p = i * t.size;
    switch (t) {
      case FLOAT -> b.putFloat(p, (float) v);
      case DOUBLE -> b.putDouble(p, v);
      case FLOAT16 -> b.putShort(p, floatToHalf((float) v));
      case BOOL -> b.put(p, (byte) (v != 0 || Double.isNaN(v) ? 1 : 0));
      default -> putLong(b, t, i, (long) v);
    }
  }

  static void putLong(ByteBuffer b, DType t, int i, long v) {
    int p = i * t.size;
    switch (t) {
      case INT32, UINT32 -> b.putInt(p, (int) v);
      case INT64, UINT64 -> b.putLong(p, v);
      case INT16, UINT16 -> b.putShort(p, (short) v);
      case INT8, UINT8 -> b.put(p, (byte) v);
      case BOOL -> b.put(p, (byte) (v != 0 ? 1 : 0));
      case FLOAT -> b.putFloat(p, v);
      case DOUBLE -> b.putDouble(p, v);
      default -> throw new IllegalStateException("cannot store long into " + t);
    }
  }

  /** IEEE 754 binary16 to float (Java 17 has no Float.float16ToFloat). */
  static float halfToFloat(short h) {
    int bits = h & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    if (exp == 0) {
      float f = mant * 0x1p-24f;
      return sign != 0 ? -f : f;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  /** float to IEEE 754 binary16, round to nearest even. */
  static short floatToHalf(float f) {
    int bits = Float.floatToIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int exp = ((bits >>> 23) & 0xff) - 127 + 15;
    int mant = bits & 0x7fffff;
    if (((bits >>> 23) & 0xff) == 0xff) return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 : 0));
    if (exp >= 0x1f) return (short) (sign | 0x7c00);
    if (exp <= 0) {
      if (exp < -10) return (short) sign;
      mant |= 0x800000;
      int shift = 14 - exp;
      int half = mant >> shift;
      int rem = mant & ((1 << shift) - 1);
      int mid = 1 << (shift - 1);
      if (rem > mid || (rem == mid && (half & 1) == 1)) half++;
      return (short) (sign | half);
    }
    int half = (exp << 10) | (mant >> 13);
    int rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1)) half++;
    return (short) (sign | half);
  }

  @Override
  public String toString() {
    return "Tensor<" + dtype.lower() + Arrays.toString(shape) + ">";
  }
}
