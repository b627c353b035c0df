package returnn.onnx.rewrite;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * Merges identical small constants and nodes that compute the same thing from the same inputs. RETURNN graphs
 * rebuild the same dynamic shape arithmetic ({@code Shape}, {@code StridedSlice}, {@code Pack}) for every layer;
 * after legalization each copy is a chain of Shape/Gather/Unsqueeze/Concat on the same input.
 */
final class CommonSubexpressions implements Rule {
  /** Constants up to this many elements are compared by value (weights are left alone). */
  static final long MAX_CONSTANT_ELEMENTS = 64;

  @Override
  public String name() {
    return "Cleanups.COMMON_SUBEXPRESSIONS";
  }

  @Override
  public int apply(Graph g, RuleContext ctx) {
    int merged = mergeConstants(g);
    Map<String, Node> seen = new HashMap<>();
    Map<Value, Integer> ids = new IdentityHashMap<>();
    for (Node n : g.topologicalOrder()) {
      String key = key(n, ids);
      if (key == null) continue;
      Node first = seen.putIfAbsent(key, n);
      if (first == null) continue;
      boolean outputUse = false;
      for (Value o : n.outputs()) if (o.isGraphOutput()) outputUse = true;
      if (outputUse) continue;
      for (int i = 0; i < n.outputs().size(); i++) g.replaceAllUses(n.output(i), first.output(i));
      g.removeNode(n);
      merged++;
    }
    return merged;
  }

  private static int mergeConstants(Graph g) {
    Map<String, Value> seen = new HashMap<>();
    int merged = 0;
    for (Value c : new ArrayList<>(g.constants())) {
      Tensor t = c.constant();
      if (t.size() > MAX_CONSTANT_ELEMENTS || t.dtype().size < 0 || c.isGraphOutput()) continue;
      String key = t.dtype() + Arrays.toString(t.shape()) + java.util.HexFormat.of().formatHex(bytes(t));
      Value first = seen.putIfAbsent(key, c);
      if (first != null && c.useCount() > 0) {
        g.replaceAllUses(c, first);
        merged++;
      }
    }
    return merged;
  }

  private static byte[] bytes(Tensor t) {
    java.nio.ByteBuffer b = t.data();
    byte[] a = new byte[b.remaining()];
    b.get(a);
    return a;
  }

  /** A key equal for nodes with the same op, inputs and attributes; null for nodes never merged. */
  private static String key(Node n, Map<Value, Integer> ids) {
    if (n.domain().equals(Node.TF) || n.op().startsWith("Random") || n.op().equals("Multinomial") || n.op().equals("Bernoulli")
        || n.op().equals("Dropout")) {
      return null; // random ops give a new value per node (Dropout's mask too: the random bits at opset >= 22)
    }
    StringBuilder sb = new StringBuilder(n.domain()).append('.').append(n.op()).append('(');
    for (Value v : n.inputs()) sb.append(v == null ? "-" : Integer.toString(ids.computeIfAbsent(v, k -> ids.size()))).append(',');
    sb.append(')');
    for (Map.Entry<String, Attr> a : n.attrs().entrySet()) {
      Attr v = a.getValue();
      if (v instanceof Attr.GraphVal) return null;
      sb.append(a.getKey()).append('=').append(attrKey(v)).append(';');
    }
    return sb.toString();
  }

  private static String attrKey(Attr a) {
    if (a instanceof Attr.Ints i) return Arrays.toString(i.values());
    if (a instanceof Attr.Floats f) return Arrays.toString(f.values());
    if (a instanceof Attr.TensorVal t) {
      Tensor x = t.value();
      return x.dtype() + Arrays.toString(x.shape()) + (x.dtype().size > 0 ? java.util.HexFormat.of().formatHex(bytes(x)) : x.strings().toString());
    }
    return a.toString();
  }
}
