package returnn.onnx.reference;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.ByteDataBuffer;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TUint8;
import org.tensorflow.types.family.TType;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * Conversion between our {@link Tensor} and TF Java tensors for the fixed-size dtypes the reference needs.
 * Both sides hold raw little-endian bytes (TF's native layout on x86/ARM), so conversion is a byte copy.
 */
public final class TfTensors {
  private TfTensors() {}

  /** The TF Java tensor class for a dtype; throws for dtypes the reference does not feed or fetch. */
  public static Class<? extends TType> tfType(DType t) {
    return switch (t) {
      case FLOAT -> TFloat32.class;
      case DOUBLE -> TFloat64.class;
      case INT32 -> TInt32.class;
      case INT64 -> TInt64.class;
      case BOOL -> TBool.class;
      case UINT8 -> TUint8.class;
      default -> throw new IllegalArgumentException("TF reference does not support dtype " + t);
    };
  }

  public static Shape shape(long[] dims) {
    return dims.length == 0 ? Shape.scalar() : Shape.of(dims);
  }

  /** A new TF tensor holding a copy of {@code t}; the caller closes it. */
  public static org.tensorflow.Tensor toTf(Tensor t) {
    if (t.dtype() == DType.STRING) { // e.g. serialized tf.Examples fed to a serving graph
      return org.tensorflow.types.TString.tensorOfBytes(shape(t.shape()),
          DataBuffers.ofObjects(t.strings().toArray(new byte[0][])));
    }
    Class<? extends TType> type = tfType(t.dtype());
    ByteBuffer src = t.data();
    byte[] bytes = new byte[src.remaining()];
    src.get(bytes);
    ByteDataBuffer buf = DataBuffers.of(bytes, true, false);
    return org.tensorflow.Tensor.of(type, shape(t.shape()), buf);
  }

  /** A copy of a TF tensor's data (the TF tensor stays owned by the caller). */
  public static Tensor fromTf(org.tensorflow.Tensor t) {
    DType dtype = DType.fromTfOrNull(t.dataType().getNumber());
    if (dtype == null || dtype.size <= 0) {
      throw new IllegalArgumentException("TF reference cannot fetch a tensor of type " + t.dataType());
    }
    tfType(dtype);
    long[] dims = t.shape().asArray();
    if (dims == null) dims = new long[0];
    long n = Tensor.count(dims);
    byte[] bytes = new byte[Math.toIntExact(n * dtype.size)];
    t.asRawTensor().data().read(bytes);
    if (dtype == DType.BOOL) {
      for (int i = 0; i < bytes.length; i++) bytes[i] = (byte) (bytes[i] != 0 ? 1 : 0);
    }
    return Tensor.of(dtype, Arrays.copyOf(dims, dims.length), ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN));
  }
}
