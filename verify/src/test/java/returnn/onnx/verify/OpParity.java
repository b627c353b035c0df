package returnn.onnx.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.TensorRef;
import org.tensorflow.proto.GraphDef;

/**
 * Parity harness for op handlers: runs a small GraphDef with TensorFlow (the reference) and, converted, with ONNX
 * Runtime, on the same inputs, and asserts the outputs agree (floats to a tolerance, integers and bools exactly,
 * shapes and dtypes equal, NaN/inf in the same places).
 *
 * <pre>{@code
 * GraphDefBuilder b = new GraphDefBuilder();
 * b.placeholder("x", DType.FLOAT, 2, 3);
 * b.op("Tanh", "y", "x").attr("T", DType.FLOAT);
 * OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 3)), "y");
 * }</pre>
 */
public final class OpParity {
  public static final double TOL = 1e-5;

  private OpParity() {}

  /** The converted model and per-output comparisons, for further assertions (op counts). */
  public record Result(Converter.Result converted, Map<String, Comparison> comparisons, Map<String, Tensor> tf,
      Map<String, Tensor> onnx) {
    public int count(String onnxOp) {
      return converted.graph().count(onnxOp);
    }
  }

  public static Result check(GraphDef g, Map<String, Tensor> feeds, String... outputs) {
    return check(g, feeds, List.of(outputs), TOL, ConvertOptions.DEFAULT_OPSET);
  }

  public static Result check(GraphDef g, Map<String, Tensor> feeds, List<String> outputs, double tol, int opset) {
    Map<String, Tensor> tf = TfReference.run(g, null, feeds, outputs);
    Converter.Result conv = convert(g, outputs, opset);
    Map<String, Tensor> ort = runOnnx(conv, feeds);
    Map<String, Comparison> cmp = new LinkedHashMap<>();
    List<String> failures = new ArrayList<>();
    for (String o : outputs) {
      String onnxName = TensorRef.parse(o).onnxName();
      Tensor expected = tf.get(o);
      Tensor actual = ort.get(onnxName);
      if (expected == null) fail("TF produced no output " + o);
      if (actual == null) fail("ONNX Runtime produced no output " + onnxName + " (has " + ort.keySet() + ")");
      Comparison c = Comparison.of(o, expected, actual);
      cmp.put(o, c);
      if (!c.ok(tol, expected.dtype())) failures.add(c + " [TF " + expected.dtype() + ", ONNX " + actual.dtype() + "]");
    }
    if (!failures.isEmpty()) fail("TF vs ONNX mismatch (opset " + opset + "):\n  " + String.join("\n  ", failures));
    return new Result(conv, cmp, tf, ort);
  }

  public static Converter.Result convert(GraphDef g, List<String> outputs, int opset) {
    try {
      Path dir = Files.createTempDirectory("parity");
      Path pb = dir.resolve("graph.pb");
      Files.write(pb, g.toByteArray());
      Converter.Result r = Converter.convert(ConvertOptions.of(pb, null, outputs).withOpset(opset));
      Files.delete(pb);
      Files.delete(dir);
      return r;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Runs the converted model, feeding only the inputs it kept. */
  public static Map<String, Tensor> runOnnx(Converter.Result conv, Map<String, Tensor> feeds) {
    try (OnnxSession s = OnnxSession.open(conv.toBytes(), OnnxSession.Options.defaults())) {
      Map<String, Tensor> in = new LinkedHashMap<>();
      for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
        String name = TensorRef.parse(e.getKey()).onnxName();
        if (s.inputNames().contains(name)) in.put(name, e.getValue());
      }
      return s.run(in);
    }
  }

  public static Tensor normal(long seed, long... shape) {
    Random r = new Random(seed);
    float[] v = new float[(int) Tensor.count(shape)];
    for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
    return Tensor.ofFloats(shape, v);
  }

  public static Tensor uniform(long seed, float lo, float hi, long... shape) {
    Random r = new Random(seed);
    float[] v = new float[(int) Tensor.count(shape)];
    for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * r.nextFloat();
    return Tensor.ofFloats(shape, v);
  }

  public static Tensor ints(long seed, int lo, int hiExclusive, long... shape) {
    Random r = new Random(seed);
    int[] v = new int[(int) Tensor.count(shape)];
    for (int i = 0; i < v.length; i++) v[i] = lo + r.nextInt(hiExclusive - lo);
    return Tensor.ofInts(shape, v);
  }

  public static Tensor longs(long seed, long lo, long hiExclusive, long... shape) {
    Random r = new Random(seed);
    long[] v = new long[(int) Tensor.count(shape)];
    for (int i = 0; i < v.length; i++) v[i] = lo + (long) (r.nextDouble() * (hiExclusive - lo));
    return Tensor.ofLongs(shape, v);
  }

  public static Tensor bools(long seed, long... shape) {
    Random r = new Random(seed);
    boolean[] v = new boolean[(int) Tensor.count(shape)];
    for (int i = 0; i < v.length; i++) v[i] = r.nextBoolean();
    return Tensor.ofBools(shape, v);
  }

  static void assertDtype(DType expected, Tensor t) {
    assertEquals(expected, t.dtype());
  }

  static void assertTrueMsg(boolean c, String msg) {
    assertTrue(c, msg);
  }
}
