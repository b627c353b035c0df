package returnn.onnx.quantize;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.Supplier;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * State shared by the quantization rules of one run: options, the report, and the quantized constants made so far. A
 * weight read by several nodes (a shared embedding, one kernel weight in a Loop body) is quantized once. Constants go
 * to the outermost graph, where Loop and If bodies can read them too.
 */
final class QuantizeContext {
  /** A quantized weight as graph constants: int8 values, scales, zero points (all zero: symmetric). */
  record Constants(Value values, Value scales, Value zeroPoints, long byteSize) {}

  final QuantizeOptions options;
  final int opset;
  final QuantizationReport report;
  private final ExcludePatterns exclude;
  private final Map<Value, Map<String, Constants>> cache = new IdentityHashMap<>();

  QuantizeContext(QuantizeOptions options, int opset) {
    this.options = options;
    this.opset = opset;
    this.report = new QuantizationReport(options.describe());
    this.exclude = new ExcludePatterns(options.exclude());
  }

  /** True, and the node reported as kept, if an exclude pattern names it. */
  boolean excluded(Node n) {
    String p = exclude.excluding(n);
    if (p == null) return false;
    report.kept(n.name(), n.op(), "excluded by --exclude " + p);
    return true;
  }

  /**
   * The constants of {@code weight} quantized in one layout ({@code layout} names it, e.g. "matmul" or "lstm-W"), made
   * on first request. {@code scaleShape} is the shape of the scale and zero-point tensors.
   */
  Constants constants(Graph where, Value weight, String layout, long[] valueShape, long[] scaleShape, Supplier<Int8Matrix[]> quantize) {
    return cache.computeIfAbsent(weight, w -> new HashMap<>()).computeIfAbsent(layout, l -> {
      Int8Matrix[] parts = quantize.get();
      int n = 0, s = 0;
      for (Int8Matrix m : parts) {
        n += m.values().length;
        s += m.scales().length;
      }
      ByteBuffer values = Tensor.alloc(n);
      float[] scales = new float[s];
      int sp = 0;
      long bytes = 0;
      for (Int8Matrix m : parts) {
        values.put(m.values());
        System.arraycopy(m.scales(), 0, scales, sp, m.scales().length);
        sp += m.scales().length;
        bytes += m.byteSize();
      }
      values.flip();
      Graph root = root(where);
      String base = weight.name() + "_int8";
      Value v = root.addConstant(base, Tensor.of(DType.INT8, valueShape, values));
      Value sc = root.addConstant(base + "_scale", Tensor.ofFloats(scaleShape, scales));
      Value zp = root.addConstant(base + "_zero_point", Tensor.of(DType.INT8, scaleShape, Tensor.alloc(scales.length)));
      return new Constants(v, sc, zp, bytes);
    });
  }

  static Graph root(Graph g) {
    while (g.parent() != null) g = g.parent();
    return g;
  }

  /**
   * Replaces every use of {@code old} by {@code replacement}. A graph output keeps its name (the model's interface),
   * so the names are swapped; the replacement takes the old dtype and shape where its own are unknown.
   */
  static void replace(Graph g, Value old, Value replacement) {
    if (replacement.dtype() == null) replacement.setDtype(old.dtype());
    if (!replacement.shape().hasRank()) replacement.setShape(old.shape());
    boolean output = old.isGraphOutput();
    g.replaceAllUses(old, replacement);
    if (output) {
      String name = old.name();
      old.setName(replacement.name());
      replacement.setName(name);
    }
  }

  /** The float values of a float constant as a row-major array (in bulk: weights run to millions of values). */
  static float[] floats(Value v) {
    float[] f = new float[(int) v.constant().size()];
    v.constant().data().asFloatBuffer().get(f);
    return f;
  }

  /** A constant float weight of the given rank, or null. */
  static Value floatConstant(Value v, int rank) {
    if (v == null || !v.isConstant() || v.constant().dtype() != DType.FLOAT) return null;
    return v.constant().rank() == rank ? v : null;
  }
}
