package returnn.onnx.tf;

import com.google.protobuf.ByteString;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/** Hand-built GraphDefs for core tests (no TensorFlow runtime in core). */
public final class TestGraphs {
  private TestGraphs() {}

  public static NodeDef.Builder node(String name, String op, String... inputs) {
    NodeDef.Builder b = NodeDef.newBuilder().setName(name).setOp(op);
    for (String i : inputs) b.addInput(i);
    return b;
  }

  public static AttrValue type(DataType t) {
    return AttrValue.newBuilder().setType(t).build();
  }

  public static AttrValue shape(long... dims) {
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (long d : dims) s.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    return AttrValue.newBuilder().setShape(s).build();
  }

  public static NodeDef placeholder(String name, DataType t, long... dims) {
    return node(name, "Placeholder").putAttr("dtype", type(t)).putAttr("shape", shape(dims)).build();
  }

  public static NodeDef floatConst(String name, long[] dims, float... v) {
    TensorProto.Builder tp = TensorProto.newBuilder().setDtype(DataType.DT_FLOAT);
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (long d : dims) s.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    tp.setTensorShape(s);
    for (float f : v) tp.addFloatVal(f);
    return node(name, "Const").putAttr("dtype", type(DataType.DT_FLOAT))
        .putAttr("value", AttrValue.newBuilder().setTensor(tp).build()).build();
  }

  public static NodeDef varHandle(String name, long... dims) {
    return node(name, "VarHandleOp").putAttr("dtype", type(DataType.DT_FLOAT)).putAttr("shape", shape(dims))
        .putAttr("shared_name", AttrValue.newBuilder().setS(ByteString.copyFromUtf8(name)).build()).build();
  }

  public static NodeDef unary(String name, String op, String input) {
    return node(name, op, input).putAttr("T", type(DataType.DT_FLOAT)).build();
  }

  /** A RETURNN-like graph: data placeholder, an unused target placeholder, a variable, an output Identity. */
  public static GraphDef small() {
    return GraphDef.newBuilder()
        .addNode(placeholder("extern_data/placeholders/data/data", DataType.DT_FLOAT, -1, -1, 3))
        .addNode(placeholder("extern_data/placeholders/data/data_dim0_size", DataType.DT_INT32, -1))
        .addNode(placeholder("extern_data/placeholders/classes/classes", DataType.DT_INT32, -1, -1))
        .addNode(varHandle("output/b", 3))
        .addNode(node("output/b/Read/ReadVariableOp", "ReadVariableOp", "output/b").putAttr("dtype", type(DataType.DT_FLOAT)))
        .addNode(node("output/add", "AddV2", "extern_data/placeholders/data/data", "output/b/Read/ReadVariableOp")
            .putAttr("T", type(DataType.DT_FLOAT)))
        .addNode(unary("output/output_batch_major", "Identity", "output/add"))
        .addNode(node("post_control_dependencies", "NoOp", "^output/output_batch_major"))
        .build();
  }
}
