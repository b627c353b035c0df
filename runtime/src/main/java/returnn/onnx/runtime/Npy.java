package returnn.onnx.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import returnn.onnx.SafePaths;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * NumPy's {@code .npy} format (numpy/lib/format.py): the magic {@code \x93NUMPY}, version, header length (2 bytes in
 * version 1, 4 in versions 2 and 3), a Python dict literal header ({@code descr}, {@code fortran_order}, {@code shape})
 * padded to a multiple of 64 bytes, then the raw data. Reads float32/float64/int32/int64/bool in either byte order and
 * either memory order (returned as little-endian C order); writes little-endian C order, version 1 unless the header
 * needs version 2.
 *
 * <pre>{@code
 * Tensor feats = Npy.read(Path.of("feats.npy"));
 * Npy.write(Path.of("out.npy"), feats);
 * }</pre>
 *
 * <p>Hand-written on purpose (issue 17's audit): the Java .npy readers are either parts of large array stacks (ND4J,
 * with native backends) or small Kotlin libraries (org.jetbrains.bio:npy, with the Kotlin runtime) that return their
 * own array types, and none of them is in the package lists this project draws from. The format is a fixed header
 * and raw bytes; the only parsing, the header dict, is {@link PythonLiteral}'s, shared with vocabularies. What
 * matters here — one {@code error:} line for a bad file, big-endian and Fortran-order inputs, a write that leaves
 * nothing half-written — is covered by NpyTest and the cli fuzz seeds.
 */
public final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final int ALIGN = 64;

  private Npy() {}

  public static Tensor read(Path file) {
    try {
      return read(Files.readAllBytes(file), file.toString());
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** @param source a name for error messages */
  public static Tensor read(byte[] bytes, String source) {
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    for (byte m : MAGIC) {
      if (!b.hasRemaining() || b.get() != m) throw new IllegalArgumentException(source + ": not a .npy file (no \\x93NUMPY magic)");
    }
    if (b.remaining() < 2) throw new IllegalArgumentException(source + ": truncated .npy header");
    int major = b.get() & 0xff;
    b.get(); // minor version: no format differences
    if (major < 1 || major > 3) throw new IllegalArgumentException(source + ": .npy version " + major + " is not supported (1 to 3)");
    if (b.remaining() < (major == 1 ? 2 : 4)) throw new IllegalArgumentException(source + ": truncated .npy header");
    long headerLen = major == 1 ? b.getShort() & 0xffff : b.getInt() & 0xffffffffL;
    if (headerLen > b.remaining()) throw new IllegalArgumentException(source + ": truncated .npy header");
    byte[] h = new byte[(int) headerLen];
    b.get(h);
    String header = new String(h, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    Header parsed = Header.parse(header, source);
    long bytesNeeded;
    try {
      bytesNeeded = Math.multiplyExact(Tensor.count(parsed.shape()), (long) parsed.dtype().size);
    } catch (ArithmeticException | IllegalArgumentException e) {
      throw new IllegalArgumentException(source + ": .npy shape " + java.util.Arrays.toString(parsed.shape()) + " is impossible (its size overflows)");
    }
    if (b.remaining() != bytesNeeded) {
      throw new IllegalArgumentException(source + ": " + parsed.descr() + java.util.Arrays.toString(parsed.shape()) + " needs "
          + bytesNeeded + " data bytes, the file has " + b.remaining());
    }
    ByteBuffer data = Tensor.alloc(bytesNeeded);
    if (parsed.bigEndian()) {
      ByteBuffer src = b.slice().order(ByteOrder.BIG_ENDIAN);
      swapInto(src, data, parsed.dtype());
    } else {
      data.put(b.slice()).flip();
    }
    Tensor t = Tensor.of(parsed.dtype(), parsed.shape(), data);
    return parsed.fortranOrder() ? fromFortranOrder(t) : t;
  }

  public static void write(Path file, Tensor t) {
    SafePaths.checkTarget(file);
    Path dir = file.toAbsolutePath().getParent();
    try {
      Files.createDirectories(dir);
      Path tmp = returnn.onnx.TempFiles.create(dir, ".npy.tmp");
      try {
        returnn.onnx.TempFiles.write(tmp, ByteBuffer.wrap(toBytes(t)));
        returnn.onnx.TempFiles.commit(tmp, file);
      } finally {
        returnn.onnx.TempFiles.discard(tmp);
      }
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot write: " + e.getMessage(), e);
    }
  }

  public static byte[] toBytes(Tensor t) {
    String descr = descr(t.dtype());
    StringBuilder shape = new StringBuilder("(");
    long[] dims = t.shape();
    for (int i = 0; i < dims.length; i++) shape.append(i > 0 ? ", " : "").append(dims[i]);
    if (dims.length == 1) shape.append(',');
    shape.append(')');
    String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    int preamble = MAGIC.length + 2 + 2;
    int version = 1;
    int total = pad(preamble + dict.length() + 1);
    if (total - preamble > 0xffff) {
      version = 2;
      preamble += 2;
      total = pad(preamble + dict.length() + 1);
    }
    String header = dict + " ".repeat(total - preamble - dict.length() - 1) + "\n";
    ByteBuffer data = t.data();
    ByteBuffer out = ByteBuffer.allocate(total + data.remaining()).order(ByteOrder.LITTLE_ENDIAN);
    out.put(MAGIC).put((byte) version).put((byte) 0);
    if (version == 1) out.putShort((short) header.length());
    else out.putInt(header.length());
    out.put(header.getBytes(StandardCharsets.ISO_8859_1)).put(data);
    return out.array();
  }

  private static int pad(int n) {
    return (n + ALIGN - 1) / ALIGN * ALIGN;
  }

  static String descr(DType t) {
    return switch (t) {
      case FLOAT -> "<f4";
      case DOUBLE -> "<f8";
      case INT32 -> "<i4";
      case INT64 -> "<i8";
      case BOOL -> "|b1";
      default -> throw new IllegalArgumentException(".npy output of " + t.lower() + " is not supported (float32, float64, int32, int64, bool)");
    };
  }

  /** The parsed header dict. */
  private record Header(String descr, DType dtype, boolean bigEndian, boolean fortranOrder, long[] shape) {
    static Header parse(String header, String source) {
      if (!(PythonLiteral.parse(header.strip(), source + " header") instanceof Map<?, ?> d)) {
        throw new IllegalArgumentException(source + ": .npy header is not a dict: " + header.strip());
      }
      if (!(d.get("descr") instanceof String descr)) throw new IllegalArgumentException(source + ": .npy header has no 'descr' string");
      if (!(d.get("fortran_order") instanceof Boolean fortran)) throw new IllegalArgumentException(source + ": .npy header has no 'fortran_order'");
      if (!(d.get("shape") instanceof List<?> dims)) throw new IllegalArgumentException(source + ": .npy header has no 'shape' tuple");
      long[] shape = new long[dims.size()];
      for (int i = 0; i < shape.length; i++) {
        if (!(dims.get(i) instanceof Long v) || v < 0) throw new IllegalArgumentException(source + ": bad .npy shape " + dims);
        shape[i] = v;
      }
      char order = descr.isEmpty() ? '?' : descr.charAt(0);
      String kind = descr.length() > 1 && "<>|=".indexOf(order) >= 0 ? descr.substring(1) : descr;
      DType dt = switch (kind) {
        case "f4" -> DType.FLOAT;
        case "f8" -> DType.DOUBLE;
        case "i4" -> DType.INT32;
        case "i8" -> DType.INT64;
        case "b1" -> DType.BOOL;
        default -> throw new IllegalArgumentException(source + ": .npy dtype '" + descr
            + "' is not supported (float32 <f4, float64 <f8, int32 <i4, int64 <i8, bool |b1)");
      };
      boolean big = order == '>' || order == '=' && ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN;
      return new Header(descr, dt, big && dt.size > 1, fortran, shape);
    }
  }

  private static void swapInto(ByteBuffer bigEndian, ByteBuffer out, DType t) {
    switch (t.size) {
      case 4 -> {
        while (bigEndian.hasRemaining()) out.putInt(bigEndian.getInt());
      }
      case 8 -> {
        while (bigEndian.hasRemaining()) out.putLong(bigEndian.getLong());
      }
      default -> throw new IllegalStateException("no byte swap for " + t);
    }
    out.flip();
  }

  /**
   * A Fortran-order array of shape s holds, in C order, its transpose of shape reversed(s): copy element by element
   * into C order. {@code np.save(f, x.T)} writes such files.
   */
  private static Tensor fromFortranOrder(Tensor t) {
    long[] shape = t.shape();
    int rank = shape.length;
    if (rank < 2) return t;
    int size = t.dtype().size;
    ByteBuffer src = t.data();
    ByteBuffer dst = Tensor.alloc(src.remaining());
    long[] fStride = new long[rank];
    long s = 1;
    for (int i = 0; i < rank; i++) {
      fStride[i] = s;
      s *= shape[i];
    }
    long[] idx = new long[rank];
    long n = t.size();
    byte[] elem = new byte[size];
    for (long k = 0; k < n; k++) {
      long off = 0;
      for (int i = 0; i < rank; i++) off += idx[i] * fStride[i];
      src.get((int) (off * size), elem);
      dst.put(elem);
      for (int i = rank - 1; i >= 0 && ++idx[i] == shape[i]; i--) idx[i] = 0;
    }
    dst.flip();
    return Tensor.of(t.dtype(), shape, dst);
  }
}
