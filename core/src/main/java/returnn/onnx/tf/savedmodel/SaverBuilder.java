package returnn.onnx.tf.savedmodel;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SaverDef;

/**
 * The nodes TF1's {@code tf.compat.v1.train.Saver()} (V2 format, not sharded) adds, built in plain protobuf under a
 * fresh scope ({@code save}, or {@code save_1}, ... if taken):
 *
 * <pre>
 * save/filename/input  Const "model"           save/SaveV2        SaveV2(save/Const, names, slices, values...)
 * save/filename        PlaceholderWithDefault  save/control_dependency  Identity(save/Const) ^save/SaveV2
 * save/Const           PlaceholderWithDefault  save/RestoreV2     RestoreV2(save/Const, names, slices)
 *                      (the filename tensor)   save/AssignVariableOp[_k] / save/Assign[_k]  one per variable
 *                                              save/restore_all   NoOp, control inputs on every assign
 * </pre>
 *
 * Variables are saved sorted by checkpoint key, as the Saver does. A resource variable is read through
 * {@code ReadVariableOp} + Identity for saving and restored with {@code AssignVariableOp}; a TF1 variable is saved
 * directly and restored with {@code Assign}. The SaverDef points at the filename tensor, the save tensor and the
 * restore op, so TensorFlow's SavedModel loader (and {@code tf.compat.v1.train.Saver}) can restore through it.
 */
public final class SaverBuilder {
  private SaverBuilder() {}

  /** One variable to save: its node ({@code VarHandleOp}, {@code VariableV2} or {@code Variable}) and checkpoint key. */
  public record Var(NodeDef node, String key) {
    boolean resource() {
      return node.getOp().equals("VarHandleOp");
    }

    DataType dtype() {
      DataType t = node.getAttrOrThrow("dtype").getType();
      return t.getNumber() > 100 ? DataType.forNumber(t.getNumber() - 100) : t;
    }
  }

  /** The saver's nodes (in creation order), its SaverDef and its scope. */
  public record Built(List<NodeDef> nodes, SaverDef saverDef, String scope) {}

  /**
   * Builds the saver for {@code vars} (at least one) in a scope that is fresh with respect to {@code names}; the new
   * node names are reserved in {@code names}.
   */
  static Built build(List<Var> vars, Nodes.Names names) {
    if (vars.isEmpty()) throw new IllegalArgumentException("a saver needs at least one variable");
    List<Var> sorted = new ArrayList<>(vars);
    sorted.sort(Comparator.comparing(Var::key));
    String scope = names.scope("save");
    List<NodeDef> nodes = new ArrayList<>();
    Scoped s = new Scoped(scope, names);

    String input = s.name("filename/input");
    nodes.add(Nodes.stringConst(input, List.of("model"), false));
    String filename = s.name("filename");
    nodes.add(placeholderWithDefault(filename, input));
    String file = s.name("Const");
    nodes.add(placeholderWithDefault(file, filename));

    List<String> keys = sorted.stream().map(Var::key).toList();
    List<String> slices = sorted.stream().map(v -> "").toList();
    List<DataType> types = sorted.stream().map(Var::dtype).toList();

    String save = s.name("SaveV2");
    String saveNames = s.name("SaveV2/tensor_names");
    String saveSlices = s.name("SaveV2/shape_and_slices");
    nodes.add(Nodes.stringConst(saveNames, keys, true));
    nodes.add(Nodes.stringConst(saveSlices, slices, true));
    NodeDef.Builder saveNode = NodeDef.newBuilder().setName(save).setOp("SaveV2")
        .addInput(file).addInput(saveNames).addInput(saveSlices).putAttr("dtypes", Nodes.types(types));
    for (Var v : sorted) {
      String name = v.node().getName();
      if (v.resource()) {
        // ResourceVariableSaveable reads the value inside the save scope.
        String read = s.name("Read/ReadVariableOp");
        nodes.add(NodeDef.newBuilder().setName(read).setOp("ReadVariableOp").addInput(name)
            .putAttr("dtype", Nodes.type(v.dtype())).build());
        String id = s.name("Identity");
        nodes.add(NodeDef.newBuilder().setName(id).setOp("Identity").addInput(read)
            .putAttr("T", Nodes.type(v.dtype())).build());
        saveNode.addInput(id);
      } else {
        saveNode.addInput(name);
      }
    }
    nodes.add(saveNode.build());
    String control = s.name("control_dependency");
    nodes.add(NodeDef.newBuilder().setName(control).setOp("Identity").addInput(file).addInput("^" + save)
        .putAttr("T", Nodes.type(DataType.DT_STRING)).putAttr("_class", Nodes.colocation(file)).build());

    String restore = s.name("RestoreV2");
    String restoreNames = s.name("RestoreV2/tensor_names");
    String restoreSlices = s.name("RestoreV2/shape_and_slices");
    nodes.add(Nodes.stringConst(restoreNames, keys, true));
    nodes.add(Nodes.stringConst(restoreSlices, slices, true));
    nodes.add(NodeDef.newBuilder().setName(restore).setOp("RestoreV2")
        .addInput(file).addInput(restoreNames).addInput(restoreSlices).putAttr("dtypes", Nodes.types(types)).build());
    List<String> assigns = new ArrayList<>();
    for (int i = 0; i < sorted.size(); i++) {
      Var v = sorted.get(i);
      String value = restore + ":" + i;
      AttrValue dtype = Nodes.type(v.dtype());
      if (v.resource()) {
        String id = s.name("Identity");
        nodes.add(NodeDef.newBuilder().setName(id).setOp("Identity").addInput(value).putAttr("T", dtype).build());
        String assign = s.name("AssignVariableOp");
        nodes.add(NodeDef.newBuilder().setName(assign).setOp("AssignVariableOp").addInput(v.node().getName())
            .addInput(id).putAttr("dtype", dtype).build());
        assigns.add(assign);
      } else {
        String assign = s.name("Assign");
        nodes.add(NodeDef.newBuilder().setName(assign).setOp("Assign").addInput(v.node().getName()).addInput(value)
            .putAttr("T", dtype).putAttr("validate_shape", Nodes.bool(true)).putAttr("use_locking", Nodes.bool(true))
            .putAttr("_class", Nodes.colocation(v.node().getName())).build());
        assigns.add(assign);
      }
    }
    String restoreAll = s.name("restore_all");
    NodeDef.Builder all = NodeDef.newBuilder().setName(restoreAll).setOp("NoOp");
    for (String a : assigns) all.addInput("^" + a);
    nodes.add(all.build());

    SaverDef saver = SaverDef.newBuilder()
        .setFilenameTensorName(file + ":0")
        .setSaveTensorName(control + ":0")
        .setRestoreOpName(restoreAll)
        .setMaxToKeep(5)
        .setSharded(false)
        .setKeepCheckpointEveryNHours(10000f)
        .setVersion(SaverDef.CheckpointFormatVersion.V2)
        .build();
    return new Built(nodes, saver, scope);
  }

  private static NodeDef placeholderWithDefault(String name, String input) {
    return NodeDef.newBuilder().setName(name).setOp("PlaceholderWithDefault").addInput(input)
        .putAttr("dtype", Nodes.type(DataType.DT_STRING)).putAttr("shape", Nodes.scalarShape()).build();
  }

  /** Unique names under the saver's scope. */
  private record Scoped(String scope, Nodes.Names names) {
    String name(String rel) {
      return names.unique(scope + "/" + rel);
    }
  }
}
