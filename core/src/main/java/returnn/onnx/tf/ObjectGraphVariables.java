package returnn.onnx.tf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Tensor;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SavedObjectGraphOuterClass.SavedConcreteFunction;
import org.tensorflow.proto.SavedObjectGraphOuterClass.SavedObjectGraph;
import org.tensorflow.proto.TrackableObjectGraphOuterClass.TrackableObjectGraph;

/**
 * Variables of a TF 2 SavedModel ({@code tf.saved_model.save}): its checkpoint keys variables by their path in the
 * object graph ({@code layer/kernel/.ATTRIBUTES/VARIABLE_VALUE}), not by the graph's {@code VarHandleOp} names. The
 * serving graph calls its function with {@code StatefulPartitionedCall(inputs..., captures...)}; the SavedObjectGraph's
 * {@code concrete_functions[f].bound_inputs} give the object-graph node of each capture, and the checkpoint's own
 * object graph ({@code _CHECKPOINTABLE_OBJECT_GRAPH}, the same node ids) that node's {@code VARIABLE_VALUE} key. Any
 * other graph, or a name not found this way, reads the checkpoint by name as before.
 */
public final class ObjectGraphVariables implements VariableStore {
  static final String OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH";

  private final VariableStore store;
  private final Map<String, String> keys;

  private ObjectGraphVariables(VariableStore store, Map<String, String> keys) {
    this.store = store;
    this.keys = keys;
  }

  /** {@code store}, with the VarHandleOp names of a TF 2 SavedModel mapped to their checkpoint keys. */
  public static VariableStore of(TfModel model, VariableStore store) {
    if (store == null || model.format() != TfModel.Format.SAVED_MODEL) return store;
    Tensor graph = store.variable(OBJECT_GRAPH_KEY);
    if (graph == null || graph.dtype() != returnn.onnx.ir.DType.STRING || graph.strings().size() != 1) return store;
    try {
      TrackableObjectGraph ckpt = TrackableObjectGraph.parseFrom(graph.strings().get(0));
      MetaGraphDef meta = serving(SavedModel.parseFrom(Files.readAllBytes(model.source().resolve("saved_model.pb"))));
      if (meta == null || !meta.hasObjectGraphDef()) return store;
      Map<String, String> keys = keys(meta.getGraphDef().getNodeList(), meta.getObjectGraphDef(), ckpt);
      return keys.isEmpty() ? store : new ObjectGraphVariables(store, keys);
    } catch (IOException e) {
      // Unreadable here means the graph reader already refused the file, or the object graph is not TF 2's: by name.
      return store;
    }
  }

  private static MetaGraphDef serving(SavedModel sm) {
    for (MetaGraphDef m : sm.getMetaGraphsList()) if (m.getMetaInfoDef().getTagsList().contains("serve")) return m;
    return sm.getMetaGraphsCount() > 0 ? sm.getMetaGraphs(0) : null;
  }

  /** VarHandleOp name → checkpoint key, through the captures of every call in the graph. */
  static Map<String, String> keys(List<NodeDef> nodes, SavedObjectGraph objects, TrackableObjectGraph ckpt) {
    Map<String, NodeDef> byName = new HashMap<>();
    for (NodeDef n : nodes) byName.put(n.getName(), n);
    Map<String, String> keys = new HashMap<>();
    for (NodeDef call : nodes) {
      AttrValue f = call.getAttrMap().get("f");
      if (f == null || !f.hasFunc()) continue;
      SavedConcreteFunction fn = objects.getConcreteFunctionsMap().get(f.getFunc().getName());
      if (fn == null) continue;
      int first = call.getInputList().stream().filter(i -> !i.startsWith("^")).toList().size() - fn.getBoundInputsCount();
      List<String> ins = call.getInputList().stream().filter(i -> !i.startsWith("^")).toList();
      for (int j = 0; j < fn.getBoundInputsCount() && first >= 0; j++) {
        String var = TensorRef.parse(ins.get(first + j)).node();
        NodeDef v = byName.get(var);
        int id = fn.getBoundInputs(j);
        if (v == null || !v.getOp().equals("VarHandleOp") || id >= ckpt.getNodesCount()) continue;
        for (var a : ckpt.getNodes(id).getAttributesList()) {
          if (a.getName().equals("VARIABLE_VALUE")) keys.put(var, a.getCheckpointKey());
        }
      }
    }
    return keys;
  }

  @Override
  public Tensor variable(String name) {
    String key = keys.get(name);
    Tensor t = key == null ? null : store.variable(key);
    return t != null ? t : store.variable(name);
  }

  @Override
  public List<String> names() {
    return store.names();
  }

  @Override
  public String describe() {
    return store.describe();
  }
}
