package returnn.onnx.verify.attention;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Comparison;

/**
 * Converts a fixture with the fusion rules and runs it in ONNX Runtime against TensorFlow on the original graph, on a
 * padded batch; returns the converted model for op-count assertions.
 */
final class FusionCheck {
  private FusionCheck() {}

  /** The fused conversion and, per output, its comparison with TF. */
  record Checked(Converter.Result converted, Map<String, Comparison> comparisons, Map<String, Tensor> tf,
      Map<String, Tensor> onnx) {
    int count(String op) {
      return converted.graph().count(op);
    }

    String report() {
      StringBuilder sb = new StringBuilder();
      comparisons.values().forEach(c -> sb.append(c).append('\n'));
      sb.append("ops: ").append(converted.graph().opHistogram()).append('\n');
      sb.append("rules: ").append(converted.report().rulesFired).append('\n');
      sb.append("declined: ").append(converted.report().ruleNotes).append('\n');
      return sb.toString();
    }
  }

  static Checked run(Fixture f, Path dir, GraphFormat format, int opset, boolean fuse, double tol, int... lengths) {
    return run(f, dir, format, opset, fuse, tol, f.randomFeeds(11, lengths));
  }

  /** With the given feeds (TF names with {@code :0}). */
  static Checked run(Fixture f, Path dir, GraphFormat format, int opset, boolean fuse, double tol, Map<String, Tensor> feeds) {
    FixtureWriter.Written w = f.write(dir, format);
    Converter.Result conv = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withOpset(opset).withFuse(fuse));
    Map<String, Tensor> tf = TfReference.run(f.graph(), w.checkpointPrefix(), feeds, f.outputs());
    Map<String, Tensor> onnx;
    try (OnnxSession s = OnnxSession.open(conv.toBytes(), OnnxSession.Options.defaults())) {
      Map<String, Tensor> in = new LinkedHashMap<>();
      feeds.forEach((k, v) -> {
        String n = TensorRef.parse(k).onnxName();
        if (s.inputNames().contains(n)) in.put(n, v);
      });
      onnx = s.run(in);
    }
    Map<String, Comparison> cmp = new LinkedHashMap<>();
    for (String o : f.outputs()) {
      String n = TensorRef.parse(o).onnxName();
      cmp.put(o, Comparison.of(n, tf.get(o), onnx.get(n)));
    }
    Checked c = new Checked(conv, cmp, tf, onnx);
    for (String o : f.outputs()) {
      Tensor t = tf.get(o);
      assertTrue(cmp.get(o).ok(tol, t.dtype()), "output " + o + " differs from TF:\n" + c.report());
    }
    return c;
  }

  static List<String> declined(Checked c) {
    return c.converted().report().ruleNotes;
  }
}
