package returnn.onnx.quantize;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/**
 * Emits {@code Y = A · dequantize(Wq) (+ bias)} with A quantized at run time: ONNX Runtime's
 * {@code com.microsoft.DynamicQuantizeMatMul(A, B, b_scale, b_zero_point, bias)} (B int8 [K,N], b_scale scalar or
 * [N] per column; quantization_defs.cc), or with {@link QuantizeOptions#standardOps()} the standard chain
 * {@code DynamicQuantizeLinear(A) → MatMulInteger → Cast → Mul(a_scale · b_scale) (→ Add bias)}, which ONNX Runtime
 * fuses back into the same kernel. The weight zero point is left out: it is 0, the default of both forms.
 */
final class QuantizedMatMul {
  static final String CONTRIB_OP = "com.microsoft.DynamicQuantizeMatMul";
  static final String STANDARD_OPS = "DynamicQuantizeLinear+MatMulInteger";

  private QuantizedMatMul() {}

  static String opName(QuantizeOptions o) {
    return o.standardOps() ? STANDARD_OPS : CONTRIB_OP;
  }

  /** Y for {@code original}'s output, emitted into {@code g}; {@code bias} [N] or null. */
  static Value emit(QuantizeContext qc, Graph g, Node original, Value a, QuantizeContext.Constants w, Value bias) {
    OnnxBuilder b = new OnnxBuilder(g, qc.opset, original.name(), original.tfName());
    if (!qc.options.standardOps()) {
      List<Value> in = new ArrayList<>(Arrays.asList(a, w.values(), w.scales(), null, bias));
      while (in.get(in.size() - 1) == null) in.remove(in.size() - 1);
      return b.node(Node.MS, "DynamicQuantizeMatMul", in, Map.of(), 1).get(0);
    }
    List<Value> q = b.node(Node.ONNX, "DynamicQuantizeLinear", List.of(a), Map.of(), 3);
    Value acc = b.op("MatMulInteger", q.get(0), w.values(), q.get(2));
    Value y = b.op("Mul", b.cast(acc, DType.FLOAT), b.op("Mul", q.get(1), w.scales()));
    return bias == null ? y : b.op("Add", y, bias);
  }

  /** "512x10000". */
  static String shape(long... dims) {
    StringBuilder sb = new StringBuilder();
    for (long d : dims) sb.append(sb.length() == 0 ? "" : "x").append(d);
    return sb.toString();
  }
}
