package returnn.onnx.tf;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/** TF {@code TensorProto} and {@code TensorShapeProto} to IR tensors and shapes. */
public final class TfTensors {
  private TfTensors() {}

  public static DType dtype(int tfCode, String where) {
    DType t = DType.fromTfOrNull(tfCode);
    if (t == null) throw new ConversionException(where + ": unsupported TF dtype code " + tfCode);
    return t;
  }

  /** Shape with -1 for unknown dims; null if the rank is unknown. */
  public static Shape shape(TensorShapeProto p) {
    if (p.getUnknownRank()) return Shape.UNKNOWN;
    List<Dim> dims = new ArrayList<>();
    for (TensorShapeProto.Dim d : p.getDimList()) dims.add(Dim.of(d.getSize()));
    return Shape.of(dims);
  }

  public static long[] fixedShape(TensorShapeProto p, String where) {
    long[] s = new long[p.getDimCount()];
    for (int i = 0; i < s.length; i++) {
      s[i] = p.getDim(i).getSize();
      if (s[i] < 0) throw new ConversionException(where + ": tensor with unknown dimension");
    }
    return s;
  }

  /**
   * Decodes a TensorProto: either {@code tensor_content} (raw little-endian bytes) or the typed value lists,
   * where fewer values than elements means the last value repeats (TF's convention for splat constants).
   */
  public static Tensor fromProto(TensorProto p, String where) {
    DType dt = dtype(p.getDtypeValue(), where);
    long[] shape = fixedShape(p.getTensorShape(), where);
    long n;
    try {
      n = Tensor.count(shape);
      // What decoding allocates at most: 8 bytes an element (a long[]/double[] for splat constants), 16 for strings.
      // A constant "filled from one value" can ask for any shape in a few bytes of file: check before allocating.
      long per = dt == DType.STRING ? 16 : 8;
      if (n > (Integer.MAX_VALUE - 8) / Math.max(dt.size, 1) || n > Long.MAX_VALUE / per) {
        throw new IllegalArgumentException("shape " + java.util.Arrays.toString(shape) + " is over 2 GiB");
      }
      Tensor.requireHeap(n * per);
    } catch (IllegalArgumentException e) {
      throw new ConversionException(where + ": constant of " + dt.lower() + " " + e.getMessage());
    }
    if (dt == DType.STRING) {
      List<byte[]> vals = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        ByteString s = p.getStringValCount() == 0 ? ByteString.EMPTY : p.getStringVal(Math.min(i, p.getStringValCount() - 1));
        vals.add(s.toByteArray());
      }
      return Tensor.ofStrings(shape, vals);
    }
    if (!p.getTensorContent().isEmpty()) {
      ByteBuffer b = Tensor.alloc(p.getTensorContent().size());
      p.getTensorContent().copyTo(b);
      b.flip();
      if (b.remaining() != n * dt.size) {
        throw new ConversionException(where + ": tensor_content has " + b.remaining() + " bytes, shape needs " + n * dt.size);
      }
      return Tensor.of(dt, shape, b);
    }
    int count = switch (dt) {
      case FLOAT -> p.getFloatValCount();
      case DOUBLE -> p.getDoubleValCount();
      case INT32, INT16, INT8, UINT8, UINT16 -> p.getIntValCount();
      case INT64 -> p.getInt64ValCount();
      case UINT32 -> p.getUint32ValCount();
      case UINT64 -> p.getUint64ValCount();
      case BOOL -> p.getBoolValCount();
      case FLOAT16, BFLOAT16 -> p.getHalfValCount();
      default -> throw new ConversionException(where + ": cannot decode TF constant of type " + dt);
    };
    if (count == 0 && n > 0) {
      return dt.isFloating() ? Tensor.fromDoubles(dt, shape, new double[(int) n]) : Tensor.fromLongs(dt, shape, new long[(int) n]);
    }
    if (count > n) throw new ConversionException(where + ": constant has " + count + " values for " + n + " elements");
    if (dt == DType.FLOAT16 || dt == DType.BFLOAT16) {
      ByteBuffer b = Tensor.alloc(n * 2);
      for (int i = 0; i < n; i++) b.putShort(i * 2, (short) p.getHalfVal(Math.min(i, count - 1)));
      return Tensor.of(dt, shape, b);
    }
    if (dt.isFloating()) {
      double[] v = new double[(int) n];
      for (int i = 0; i < n; i++) {
        int k = Math.min(i, count - 1);
        v[i] = dt == DType.FLOAT ? p.getFloatVal(k) : p.getDoubleVal(k);
      }
      return Tensor.fromDoubles(dt, shape, v);
    }
    long[] v = new long[(int) n];
    for (int i = 0; i < n; i++) {
      int k = Math.min(i, count - 1);
      v[i] = switch (dt) {
        case INT64 -> p.getInt64Val(k);
        case UINT32 -> p.getUint32Val(k) & 0xffffffffL;
        case UINT64 -> p.getUint64Val(k);
        case BOOL -> p.getBoolVal(k) ? 1 : 0;
        default -> p.getIntVal(k);
      };
    }
    return Tensor.fromLongs(dt, shape, v);
  }
}
