package returnn.onnx.tf.savedmodel;

import java.util.Map;
import java.util.TreeMap;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.OpDef.ArgDef;
import org.tensorflow.proto.OpDef.AttrDef;

/**
 * OpDefs (as in TensorFlow's op registry, docs stripped) of the ops the exporter adds for save/restore and
 * variable initializers, for the {@code stripped_op_list}. Written by hand because core uses no TF natives; a
 * source graph's own OpDefs take precedence.
 */
final class SaverOpDefs {
  private SaverOpDefs() {}

  static final Map<String, OpDef> DEFS = build();

  private static Map<String, OpDef> build() {
    Map<String, OpDef> m = new TreeMap<>();
    put(m, OpDef.newBuilder().setName("Const")
        .addOutputArg(arg("output").setTypeAttr("dtype"))
        .addAttr(attr("value", "tensor"))
        .addAttr(attr("dtype", "type")));
    put(m, OpDef.newBuilder().setName("Identity")
        .addInputArg(arg("input").setTypeAttr("T"))
        .addOutputArg(arg("output").setTypeAttr("T"))
        .addAttr(attr("T", "type")));
    put(m, OpDef.newBuilder().setName("NoOp"));
    put(m, OpDef.newBuilder().setName("PlaceholderWithDefault")
        .addInputArg(arg("input").setTypeAttr("dtype"))
        .addOutputArg(arg("output").setTypeAttr("dtype"))
        .addAttr(attr("dtype", "type"))
        .addAttr(attr("shape", "shape")));
    put(m, OpDef.newBuilder().setName("SaveV2")
        .addInputArg(arg("prefix").setType(DataType.DT_STRING))
        .addInputArg(arg("tensor_names").setType(DataType.DT_STRING))
        .addInputArg(arg("shape_and_slices").setType(DataType.DT_STRING))
        .addInputArg(arg("tensors").setTypeListAttr("dtypes"))
        .addAttr(attr("dtypes", "list(type)").setHasMinimum(true).setMinimum(1))
        .setIsStateful(true));
    put(m, OpDef.newBuilder().setName("RestoreV2")
        .addInputArg(arg("prefix").setType(DataType.DT_STRING))
        .addInputArg(arg("tensor_names").setType(DataType.DT_STRING))
        .addInputArg(arg("shape_and_slices").setType(DataType.DT_STRING))
        .addOutputArg(arg("tensors").setTypeListAttr("dtypes"))
        .addAttr(attr("dtypes", "list(type)").setHasMinimum(true).setMinimum(1))
        .setIsStateful(true));
    put(m, OpDef.newBuilder().setName("ReadVariableOp")
        .addInputArg(arg("resource").setType(DataType.DT_RESOURCE))
        .addOutputArg(arg("value").setTypeAttr("dtype"))
        .addAttr(attr("dtype", "type"))
        .setIsStateful(true));
    put(m, OpDef.newBuilder().setName("AssignVariableOp")
        .addInputArg(arg("resource").setType(DataType.DT_RESOURCE))
        .addInputArg(arg("value").setTypeAttr("dtype"))
        .addAttr(attr("dtype", "type"))
        .addAttr(attr("validate_shape", "bool").setDefaultValue(Nodes.bool(false)))
        .setIsStateful(true));
    put(m, OpDef.newBuilder().setName("Assign")
        .addInputArg(arg("ref").setTypeAttr("T").setIsRef(true))
        .addInputArg(arg("value").setTypeAttr("T"))
        .addOutputArg(arg("output_ref").setTypeAttr("T").setIsRef(true))
        .addAttr(attr("T", "type"))
        .addAttr(attr("validate_shape", "bool").setDefaultValue(Nodes.bool(true)))
        .addAttr(attr("use_locking", "bool").setDefaultValue(Nodes.bool(true)))
        .setAllowsUninitializedInput(true));
    return m;
  }

  private static void put(Map<String, OpDef> m, OpDef.Builder b) {
    m.put(b.getName(), b.build());
  }

  private static ArgDef.Builder arg(String name) {
    return ArgDef.newBuilder().setName(name);
  }

  private static AttrDef.Builder attr(String name, String type) {
    return AttrDef.newBuilder().setName(name).setType(type);
  }
}
