package returnn.onnx.convert;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/**
 * The conversion pass: rewrites every "tf" node into ONNX ops with its handler, in topological order, replacing
 * all uses of the TF outputs. Before touching anything it checks that every op has a handler and fails listing
 * all unsupported ops at once.
 */
public final class Legalizer {
  private final HandlerRegistry registry;
  private final int opset;
  private final Map<String, Integer> handlerUse = new TreeMap<>();

  public Legalizer(HandlerRegistry registry, int opset) {
    this.registry = registry;
    this.opset = opset;
  }

  /** How many nodes each TF op's handler converted. */
  public Map<String, Integer> handlerUse() {
    return handlerUse;
  }

  public void run(Graph graph, String source) {
    checkSupported(graph, source);
    legalize(graph, source);
  }

  /**
   * Converts the TF nodes of {@code graph} in topological order. Nested graphs (bodies of Loop/If nodes that TF-level
   * rules built from TF control flow) are legalized when their node is reached, so the outer values they use are
   * already ONNX values; the node's output types are then inferred from the legalized body.
   */
  private void legalize(Graph graph, String source) {
    List<Node> order;
    try {
      order = graph.topologicalOrder();
    } catch (IllegalStateException e) {
      throw new ConversionException(source + ": the graph has a cycle that no loop rule could turn into an ONNX Loop: "
          + e.getMessage());
    }
    for (Node n : order) {
      if (n.domain().equals(Node.TF)) {
        convert(graph, n);
        continue;
      }
      if (n.isOnnx("Loop")) returnn.onnx.eval.TypeInference.bindLoopBody(n);
      for (returnn.onnx.ir.Attr a : n.attrs().values()) {
        if (a instanceof returnn.onnx.ir.Attr.GraphVal g) legalize(g.value(), source);
      }
      // ONNX nodes a TF-level rule emitted on TF values (Loop/If, their outputs, TensorArray reads) get their types now
      // that those values are converted; inference only fills what is still unknown.
      returnn.onnx.eval.TypeInference.infer(n, opset);
    }
  }

  private void checkSupported(Graph graph, String source) {
    Map<String, List<String>> missing = new TreeMap<>();
    for (Node n : graph.allNodes()) {
      if (n.domain().equals(Node.TF) && registry.find(n.op()) == null) {
        missing.computeIfAbsent(n.op(), k -> new ArrayList<>()).add(n.tfName());
      }
    }
    if (missing.isEmpty()) return;
    int total = missing.values().stream().mapToInt(List::size).sum();
    StringBuilder sb = new StringBuilder(source + ": " + total + " node" + (total == 1 ? "" : "s") + " of "
        + missing.size() + " unsupported op type" + (missing.size() == 1 ? "" : "s") + " (opset " + opset + "):");
    for (Map.Entry<String, List<String>> e : missing.entrySet()) {
      List<String> names = e.getValue();
      sb.append("\n  ").append(e.getKey()).append(" x").append(names.size()).append(": ")
          .append(String.join(", ", names.subList(0, Math.min(5, names.size()))))
          .append(names.size() > 5 ? ", ..." : "");
    }
    throw new ConversionException(sb.toString());
  }

  private void convert(Graph graph, Node n) {
    OnnxBuilder b = new OnnxBuilder(graph, opset, n.tfName(), n.tfName());
    ConversionContext ctx = new ConversionContext(n, b);
    long before = Node.nextSerial();
    try {
      registry.find(n.op()).convert(ctx);
    } catch (ConversionException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new ConversionException("node '" + n.tfName() + "' (" + n.op() + "): " + e, e);
    }
    handlerUse.merge(n.op(), 1, Integer::sum);
    for (int i = 0; i < n.outputs().size(); i++) {
      Value old = n.output(i);
      if (old.useCount() == 0) continue;
      Value v = ctx.output(i);
      if (v == null) throw ConversionException.atNode(n.tfName(), n.op(), "handler produced no value for output " + i);
      boolean added = v.producer() != null && v.producer().serial() >= before && v.producer().graph() == graph;
      if (added && !v.isGraphOutput()) v.setName(old.name());
      if (v.dtype() == null) throw ConversionException.atNode(n.tfName(), n.op(), "output " + i + " has no inferred type");
      if (!v.shape().hasRank() && old.shape().hasRank()) v.setShape(old.shape());
      graph.replaceAllUses(old, v);
    }
    for (Value o : n.outputs()) {
      if (o.useCount() > 0) throw new IllegalStateException("output " + o + " still used");
    }
    graph.removeNode(n);
  }

  /** Tensor-level mapping kept for reports: TF op → count. */
  public Map<String, Integer> snapshot() {
    return new LinkedHashMap<>(handlerUse);
  }
}
