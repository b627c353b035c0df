package returnn.onnx.build;

import java.util.LinkedHashMap;
import java.util.Map;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Tensor;

/** Builds ONNX attribute maps from Java values: {@code Attrs.of("axis", 1, "keepdims", 0)}. */
public final class Attrs {
  private Attrs() {}

  public static Map<String, Attr> of(Object... kv) {
    Map<String, Attr> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], attr(kv[i + 1]));
    return m;
  }

  public static Attr attr(Object v) {
    if (v instanceof Attr a) return a;
    if (v instanceof Integer i) return new Attr.Int(i);
    if (v instanceof Long l) return new Attr.Int(l);
    if (v instanceof Boolean b) return new Attr.Int(b ? 1 : 0);
    if (v instanceof Float f) return new Attr.Float(f);
    if (v instanceof Double d) return new Attr.Float(d.floatValue());
    if (v instanceof String s) return new Attr.Str(s);
    if (v instanceof long[] l) return new Attr.Ints(l);
    if (v instanceof int[] ia) {
      long[] l = new long[ia.length];
      for (int i = 0; i < l.length; i++) l[i] = ia[i];
      return new Attr.Ints(l);
    }
    if (v instanceof float[] f) return new Attr.Floats(f);
    if (v instanceof Tensor t) return new Attr.TensorVal(t);
    if (v instanceof Graph g) return new Attr.GraphVal(g);
    if (v instanceof DType t) return new Attr.Int(t.onnxCode);
    throw new IllegalArgumentException("no ONNX attribute for " + v);
  }
}
