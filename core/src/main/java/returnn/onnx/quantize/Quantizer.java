package returnn.onnx.quantize;

import java.util.List;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.Rule;
import returnn.onnx.rewrite.RuleContext;

/**
 * Dynamic int8 quantization of an ONNX-level graph (after conversion and fusion, or as read from a .onnx file): weights
 * of MatMul, Gemm, LSTM and embedding Gather become int8 constants with float scales; activations stay float and are
 * quantized by ONNX Runtime on every call. Nested graphs (Loop bodies of {@code --no-fuse} models) are included.
 *
 * <pre>{@code
 * QuantizationReport r = Quantizer.quantize(graph, QuantizeOptions.defaults().withExclude(List.of("output")), 17);
 * System.out.print(r.format());
 * }</pre>
 */
public final class Quantizer {
  /** Model metadata key recording how the weights were quantized ({@link QuantizeOptions#describe()}). */
  public static final String METADATA_KEY = "returnn_onnx.quantization";

  private Quantizer() {}

  public static QuantizationReport quantize(Graph g, QuantizeOptions options, int opset) {
    long t0 = System.nanoTime();
    List<String> unmatched = new ExcludePatterns(options.exclude()).unmatched(g);
    if (!unmatched.isEmpty()) {
      throw new IllegalArgumentException("--exclude " + String.join(", ", unmatched) + " matches no node of the model "
          + "(patterns match ONNX node names or the TF names they came from; a plain name also matches its scope)");
    }
    QuantizeContext qc = new QuantizeContext(options, opset);
    qc.report.weightBytesBefore = weightBytes(g);
    RuleContext ctx = new RuleContext(opset);
    for (Rule r : rules(qc)) r.apply(g, ctx);
    g.removeDeadNodes();
    qc.report.weightBytesAfter = weightBytes(g);
    qc.report.millis = (System.nanoTime() - t0) / 1_000_000;
    return qc.report;
  }

  /** LSTMs first: their weights are the bulk of recurrent models, and nothing else matches their nodes. */
  private static List<Rule> rules(QuantizeContext qc) {
    return List.of(new Int8LstmRule(qc), new Int8MatMulRule(qc), new Int8GemmRule(qc), new Int8EmbeddingRule(qc));
  }

  /** Bytes of all constants in {@code g} and its nested graphs. */
  public static long weightBytes(Graph g) {
    long n = 0;
    for (Value c : g.constants()) n += c.constant().byteSize();
    for (Node node : g.nodes()) {
      for (Attr a : node.attrs().values()) if (a instanceof Attr.GraphVal sub) n += weightBytes(sub.value());
    }
    return n;
  }
}
