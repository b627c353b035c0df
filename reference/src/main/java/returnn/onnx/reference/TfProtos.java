package returnn.onnx.reference;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/** Small builders for TF protobuf values from our {@link Tensor}. */
public final class TfProtos {
  private TfProtos() {}

  public static DataType dataType(DType t) {
    return DataType.forNumber(t.tfCode);
  }

  public static TensorShapeProto shape(long... dims) {
    TensorShapeProto.Builder b = TensorShapeProto.newBuilder();
    for (long d : dims) b.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    return b.build();
  }

  /** A TensorProto with the raw little-endian bytes in {@code tensor_content} (as tf.make_tensor_proto does). */
  public static TensorProto tensorProto(Tensor t) {
    TensorProto.Builder b = TensorProto.newBuilder().setDtype(dataType(t.dtype())).setTensorShape(shape(t.shape()));
    if (t.dtype() == DType.STRING) {
      for (byte[] s : t.strings()) b.addStringVal(ByteString.copyFrom(s));
    } else {
      ByteBuffer d = t.data();
      b.setTensorContent(ByteString.copyFrom(d));
    }
    return b.build();
  }

  /** A {@code Const} node holding {@code value}. */
  public static NodeDef constNode(String name, Tensor value) {
    return NodeDef.newBuilder().setName(name).setOp("Const")
        .putAttr("dtype", AttrValue.newBuilder().setType(dataType(value.dtype())).build())
        .putAttr("value", AttrValue.newBuilder().setTensor(tensorProto(value)).build())
        .build();
  }
}
