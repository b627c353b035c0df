package returnn.onnx.tf.savedmodel;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/** NodeDef and AttrValue construction in plain protobuf (no TensorFlow natives), and TF-style unique names. */
final class Nodes {
  private Nodes() {}

  /** Op types whose output is a variable: TF2 resource variables and TF1 reference variables. */
  static final Set<String> VARIABLE_OPS = Set.of("VarHandleOp", "VariableV2", "Variable");

  static AttrValue type(DataType t) {
    return AttrValue.newBuilder().setType(t).build();
  }

  static AttrValue bool(boolean b) {
    return AttrValue.newBuilder().setB(b).build();
  }

  static AttrValue types(List<DataType> ts) {
    return AttrValue.newBuilder().setList(AttrValue.ListValue.newBuilder().addAllType(ts)).build();
  }

  static AttrValue scalarShape() {
    return AttrValue.newBuilder().setShape(TensorShapeProto.getDefaultInstance()).build();
  }

  static AttrValue colocation(String node) {
    return AttrValue.newBuilder().setList(AttrValue.ListValue.newBuilder()
        .addS(ByteString.copyFromUtf8("loc:@" + node))).build();
  }

  /** A string Const: a scalar ({@code vector} false, one value) or a vector. */
  static NodeDef stringConst(String name, List<String> values, boolean vector) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    if (vector) shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(values.size()));
    TensorProto.Builder t = TensorProto.newBuilder().setDtype(DataType.DT_STRING).setTensorShape(shape);
    for (String v : values) t.addStringVal(ByteString.copyFrom(v, StandardCharsets.UTF_8));
    return NodeDef.newBuilder().setName(name).setOp("Const")
        .putAttr("dtype", type(DataType.DT_STRING))
        .putAttr("value", AttrValue.newBuilder().setTensor(t).build())
        .build();
  }

  /** A splat zeros Const (one value for the whole shape), as TF writes {@code zeros} initializers. */
  static NodeDef zerosConst(String name, DataType dtype, long[] shape) {
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (long d : shape) s.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    TensorProto.Builder t = TensorProto.newBuilder().setDtype(dtype).setTensorShape(s);
    switch (dtype) {
      case DT_FLOAT -> t.addFloatVal(0f);
      case DT_DOUBLE -> t.addDoubleVal(0);
      case DT_INT64 -> t.addInt64Val(0);
      case DT_BOOL -> t.addBoolVal(false);
      case DT_STRING -> t.addStringVal(ByteString.EMPTY);
      case DT_HALF, DT_BFLOAT16 -> t.addHalfVal(0);
      case DT_UINT32 -> t.addUint32Val(0);
      case DT_UINT64 -> t.addUint64Val(0);
      default -> t.addIntVal(0);
    }
    return NodeDef.newBuilder().setName(name).setOp("Const")
        .putAttr("dtype", type(dtype))
        .putAttr("value", AttrValue.newBuilder().setTensor(t).build())
        .build();
  }

  /** Node name of a GraphDef input ({@code ^ctrl}, {@code name}, {@code name:1}). */
  static String inputNode(String input) {
    String s = input.startsWith("^") ? input.substring(1) : input;
    int c = s.lastIndexOf(':');
    if (c > 0 && c < s.length() - 1 && s.substring(c + 1).chars().allMatch(Character::isDigit)) return s.substring(0, c);
    return s;
  }

  /** Names made unique as TF Python does: {@code name}, {@code name_1}, {@code name_2}, ...; also avoids scopes. */
  static final class Names {
    private final java.util.TreeSet<String> used = new java.util.TreeSet<>();

    Names(Iterable<String> taken) {
      for (String s : taken) used.add(s);
    }

    boolean taken(String name) {
      if (used.contains(name)) return true;
      String s = used.ceiling(name + "/");
      return s != null && s.startsWith(name + "/");
    }

    /** A fresh scope (neither a node nor a prefix of one): {@code base}, {@code base_1}, ... */
    String scope(String base) {
      String s = base;
      for (int i = 1; taken(s); i++) s = base + "_" + i;
      return s;
    }

    /** A fresh node name, reserved. */
    String unique(String base) {
      String s = base;
      for (int i = 1; used.contains(s); i++) s = base + "_" + i;
      used.add(s);
      return s;
    }

    List<String> all() {
      return new ArrayList<>(used);
    }
  }
}
