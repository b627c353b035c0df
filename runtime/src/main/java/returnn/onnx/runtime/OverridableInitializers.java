package returnn.onnx.runtime;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * Graph inputs that have an initializer of the same name (ONNX IR 4+: the initializer is the input's default).
 * ONNX Runtime accepts feeds for them, but its Java API does not: {@code OrtSession.getInputNames()} lists only the
 * inputs without a default (the C API's {@code SessionGetInputName}), and {@code OrtSession.run} refuses any other name
 * ("Unknown input name"). So a caller that must feed them (a carried state) loads the model with those initializers
 * taken out, which makes them plain inputs, and feeds their values itself when it has nothing else to feed.
 */
final class OverridableInitializers {
  /**
   * The model without the initializers of its inputs, and those initializers' values by name; {@code batchAxes}: for
   * each graph input with a dim named {@code batch}, that dim's index.
   */
  record Split(byte[] model, Map<String, Tensor> defaults, Map<String, Integer> batchAxes) {}

  private OverridableInitializers() {}

  static Split split(byte[] model, String source) {
    OnnxMl.ModelProto m;
    try {
      m = OnnxMl.ModelProto.parseFrom(model);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException(source + ": not an ONNX model: " + e.getMessage(), e);
    }
    OnnxMl.GraphProto g = m.getGraph();
    Set<String> inputs = new HashSet<>();
    for (OnnxMl.ValueInfoProto v : g.getInputList()) inputs.add(v.getName());
    Map<String, Integer> batchAxes = new LinkedHashMap<>();
    for (OnnxMl.ValueInfoProto v : g.getInputList()) {
      List<OnnxMl.TensorShapeProto.Dimension> dims = v.getType().getTensorType().getShape().getDimList();
      for (int i = 0; i < dims.size(); i++) {
        if ("batch".equals(dims.get(i).getDimParam())) {
          batchAxes.put(v.getName(), i);
          break;
        }
      }
    }
    Map<String, Tensor> defaults = new LinkedHashMap<>();
    OnnxMl.GraphProto.Builder gb = g.toBuilder().clearInitializer();
    for (OnnxMl.TensorProto t : g.getInitializerList()) {
      if (inputs.contains(t.getName())) defaults.put(t.getName(), tensor(t, source));
      else gb.addInitializer(t);
    }
    if (defaults.isEmpty()) return new Split(model, defaults, batchAxes);
    return new Split(m.toBuilder().setGraph(gb).build().toByteArray(), defaults, batchAxes);
  }

  /** An inline initializer as a tensor: raw little-endian bytes or a typed value list. */
  private static Tensor tensor(OnnxMl.TensorProto t, String source) {
    if (t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL) {
      throw new IllegalArgumentException(source + ": the default of input '" + t.getName() + "' is in external data");
    }
    DType dt = DType.fromOnnx(t.getDataType());
    long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    if (!t.getRawData().isEmpty()) return Tensor.of(dt, shape, ByteBuffer.wrap(t.getRawData().toByteArray()));
    return switch (dt) {
      case FLOAT -> floats(shape, t.getFloatDataList());
      case DOUBLE -> Tensor.ofDoubles(shape, t.getDoubleDataList().stream().mapToDouble(Double::doubleValue).toArray());
      case INT64 -> Tensor.ofLongs(shape, t.getInt64DataList().stream().mapToLong(Long::longValue).toArray());
      case INT32, BOOL -> Tensor.fromLongs(dt, shape, t.getInt32DataList().stream().mapToLong(Integer::longValue).toArray());
      default -> throw new IllegalArgumentException(source + ": the default of input '" + t.getName() + "' is stored as "
          + dt.lower() + " values, which are not read");
    };
  }

  private static Tensor floats(long[] shape, List<Float> v) {
    float[] f = new float[v.size()];
    for (int i = 0; i < f.length; i++) f[i] = v.get(i);
    return Tensor.ofFloats(shape, f);
  }
}
