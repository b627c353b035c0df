package returnn.onnx.tf.savedmodel;

import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.TensorShapeProto;

/**
 * The dtype and shape of a node's output, for a SignatureDef's TensorInfo, without TensorFlow's op registry: the
 * dtype from the op's OpDef when the graph carries one (a MetaGraphDef's stripped op list), else from the attrs TF
 * ops name their output type by; the shape from {@code _output_shapes} (or a placeholder's {@code shape}).
 */
public final class TensorTypes {
  private TensorTypes() {}

  private static final Set<String> BOOL_OUT = Set.of("Equal", "NotEqual", "Less", "LessEqual", "Greater",
      "GreaterEqual", "LogicalAnd", "LogicalOr", "LogicalNot", "IsNan", "IsInf", "IsFinite", "ApproximateEqual",
      "VarIsInitializedOp", "IsVariableInitialized", "LoopCond");
  private static final Set<String> INT32_OUT = Set.of("Rank", "TensorArraySizeV3");

  /** The number of outputs according to the OpDef (else {@code _output_shapes}), or -1 if unknown. */
  public static int outputCount(NodeDef n, OpDef def) {
    if (def == null) {
      if (n.containsAttr("_output_shapes")) return n.getAttrOrThrow("_output_shapes").getList().getShapeCount();
      return -1;
    }
    int count = 0;
    for (OpDef.ArgDef a : def.getOutputArgList()) {
      int k = argCount(n, def, a);
      if (k < 0) return -1;
      count += k;
    }
    return count;
  }

  /** The dtype of output {@code index} of {@code n}, or DT_INVALID when neither its OpDef nor its attrs tell. */
  public static DataType dtype(NodeDef n, int index, Map<String, OpDef> defs) {
    OpDef def = defs.get(n.getOp());
    if (def != null) {
      DataType t = fromOpDef(n, index, def);
      if (t != null) return t;
    }
    return fromAttrs(n, index);
  }

  private static int argCount(NodeDef n, OpDef def, OpDef.ArgDef a) {
    if (!a.getNumberAttr().isEmpty()) {
      AttrValue v = attr(n, def, a.getNumberAttr());
      return v == null ? -1 : (int) v.getI();
    }
    if (!a.getTypeListAttr().isEmpty()) {
      AttrValue v = attr(n, def, a.getTypeListAttr());
      return v == null ? -1 : v.getList().getTypeCount();
    }
    return 1;
  }

  private static DataType fromOpDef(NodeDef n, int index, OpDef def) {
    int i = index;
    for (OpDef.ArgDef a : def.getOutputArgList()) {
      int k = argCount(n, def, a);
      if (k < 0) return null;
      if (i < k) {
        if (a.getType() != DataType.DT_INVALID) return a.getType();
        if (!a.getTypeAttr().isEmpty()) {
          AttrValue v = attr(n, def, a.getTypeAttr());
          return v == null ? null : v.getType();
        }
        if (!a.getTypeListAttr().isEmpty()) {
          AttrValue v = attr(n, def, a.getTypeListAttr());
          return v == null ? null : v.getList().getType(i);
        }
        return null;
      }
      i -= k;
    }
    return null;
  }

  /** The node's attr, or the OpDef's default for it. */
  private static AttrValue attr(NodeDef n, OpDef def, String name) {
    if (n.containsAttr(name)) return n.getAttrOrThrow(name);
    for (OpDef.AttrDef a : def.getAttrList()) if (a.getName().equals(name) && a.hasDefaultValue()) return a.getDefaultValue();
    return null;
  }

  private static DataType fromAttrs(NodeDef n, int index) {
    String op = n.getOp();
    if (PARSE_EXAMPLE.contains(op)) return parseExampleOutput(n, index);
    if (BOOL_OUT.contains(op)) return DataType.DT_BOOL;
    if (INT32_OUT.contains(op)) return DataType.DT_INT32;
    if (op.equals("Where")) return DataType.DT_INT64;
    if (index == 1 && (op.equals("Merge") || op.equals("RefMerge") || op.equals("TopKV2"))) return DataType.DT_INT32;
    if (index == 1 && op.equals("Unique") && n.containsAttr("out_idx")) return n.getAttrOrThrow("out_idx").getType();
    if (index > 0 && op.startsWith("FusedBatchNorm") && n.containsAttr("U")) return n.getAttrOrThrow("U").getType();
    if (op.equals("VarHandleOp")) return DataType.DT_RESOURCE;
    if (op.equals("TensorArrayV3") && index == 0) return DataType.DT_RESOURCE;
    if (op.startsWith("TensorArray") && !op.equals("TensorArrayReadV3") && !op.equals("TensorArrayGatherV3")
        && !op.equals("TensorArrayConcatV3")) {
      return DataType.DT_FLOAT;
    }
    for (String a : new String[] {"DstT", "out_type", "output_type", "Tout", "dtype", "T", "Tidx"}) {
      if (!n.containsAttr(a)) continue;
      AttrValue v = n.getAttrOrThrow(a);
      if (v.getValueCase() == AttrValue.ValueCase.TYPE) return v.getType();
      if (v.getValueCase() == AttrValue.ValueCase.LIST && index < v.getList().getTypeCount()) return v.getList().getType(index);
    }
    return DataType.DT_INVALID;
  }

  private static final Set<String> PARSE_EXAMPLE = Set.of("ParseExample", "ParseExampleV2", "ParseSingleExample");

  /**
   * ParseExample's outputs (the front end of serving SavedModels fed serialized tf.Examples): num_sparse int64
   * indices, the sparse values (sparse_types), num_sparse int64 shapes, the dense values (Tdense), then (V2) the
   * ragged values and row splits.
   */
  private static DataType parseExampleOutput(NodeDef n, int index) {
    long sparse = n.containsAttr("Nsparse") ? n.getAttrOrThrow("Nsparse").getI()
        : n.containsAttr("num_sparse") ? n.getAttrOrThrow("num_sparse").getI() : 0;
    java.util.List<DataType> outs = new java.util.ArrayList<>();
    for (long i = 0; i < sparse && outs.size() <= index; i++) outs.add(DataType.DT_INT64);
    outs.addAll(types(n, "sparse_types"));
    for (long i = 0; i < sparse && outs.size() <= index; i++) outs.add(DataType.DT_INT64);
    outs.addAll(types(n, "Tdense"));
    outs.addAll(types(n, "ragged_value_types"));
    outs.addAll(types(n, "ragged_split_types"));
    return index < outs.size() ? outs.get(index) : DataType.DT_INVALID;
  }

  private static java.util.List<DataType> types(NodeDef n, String attr) {
    return n.containsAttr(attr) ? n.getAttrOrThrow(attr).getList().getTypeList() : java.util.List.of();
  }

  /** The output's shape, or an unknown-rank shape. */
  public static TensorShapeProto shape(NodeDef n, int index) {
    if (n.containsAttr("_output_shapes")) {
      AttrValue.ListValue l = n.getAttrOrThrow("_output_shapes").getList();
      if (index < l.getShapeCount()) return l.getShape(index);
    }
    if (index == 0 && (n.getOp().equals("Placeholder") || n.getOp().equals("PlaceholderWithDefault")) && n.containsAttr("shape")) {
      return n.getAttrOrThrow("shape").getShape();
    }
    return TensorShapeProto.newBuilder().setUnknownRank(true).build();
  }
}
