package returnn.onnx.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.loops.LoopFixtures;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.TensorRef;

/**
 * Every opset the CLI accepts must give models ONNX Runtime loads and that match TensorFlow: the fixture zoo (the
 * RETURNN-shaped fixtures and the TF1 control-flow fixtures, the {@code --train -1} dropout graph among them) at
 * opsets 13, 17, 21 and 23.
 */
class OpsetFixturesTest {
  static final int[] OPSETS = {13, 17, 21, 23};

  @TempDir
  Path dir;

  static List<Fixture> zoo() {
    List<Fixture> l = new ArrayList<>(Fixtures.all(VariableKind.RESOURCE));
    l.addAll(LoopFixtures.all(VariableKind.TF1));
    return l;
  }

  static Stream<Arguments> cases() {
    List<Arguments> l = new ArrayList<>();
    for (Fixture f : zoo()) for (int opset : OPSETS) l.add(Arguments.of(f.name(), opset));
    return l.stream();
  }

  private static Map<String, Tensor> feeds(Fixture f, boolean train) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    f.randomFeeds(5, 5, 3, 1).forEach((k, v) -> feeds.put(TensorRef.parse(k).onnxName(), v));
    if (f.name().startsWith("train_flag")) feeds.put(LoopFixtures.TRAIN_FLAG, Tensor.ofBools(new long[0], train));
    return feeds;
  }

  @ParameterizedTest(name = "{0} opset {1}")
  @MethodSource("cases")
  void loadsAndMatchesTensorFlow(String name, int opset) {
    Fixture f = zoo().stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Path onnx = dir.resolve(name + opset + ".onnx");
    Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withOpset(opset)).write(onnx);
    if (opset <= OnnxChecker.MAX_OPSET) assertNull(OnnxChecker.check(onnx), "ONNX checker at opset " + opset);
    Verifier.Report rep = Verifier.verify(new Verifier.Options(w.graph(), w.checkpointPrefix(), onnx, f.outputs(),
        feeds(f, false), 1, 3, 7, 1e-5));
    assertTrue(rep.ok(), name + " opset " + opset + "\n" + rep.format());
    if (name.startsWith("train_flag")) {
      // The dropout branch runs too (other numbers than TF's, so no comparison): every row is still a distribution.
      try (OnnxSession s = OnnxSession.open(onnx, OnnxSession.Options.defaults())) {
        Map<String, Tensor> in = new LinkedHashMap<>(feeds(f, true));
        in.keySet().retainAll(s.inputNames());
        float[] y = s.run(in).get(TensorRef.parse(f.outputs().get(0)).onnxName()).toFloats();
        double sum = 0;
        for (float v : y) sum += v;
        assertEquals(y.length / 4.0, sum, 1e-3, "softmax rows of 4 classes sum to 1");
      }
    }
  }

  /**
   * RandomUniform and RandomStandardNormal draw other numbers than TF, but from the same distribution: at opset 17
   * (RandomUniformLike) and 23 (Dropout masks as random bits, Box–Muller), 200,000 draws have TF's mean, spread and
   * 10-bin histogram.
   */
  @Test
  void randomOpsHaveTensorFlowsDistributionAtEveryOpset() {
    int n = 200_000;
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("shape", DType.INT32, 2);
    b.op("RandomUniform", "u", "shape").attr("T", DType.INT32).attr("dtype", DType.FLOAT).attr("seed", 0L)
        .attr("seed2", 0L);
    b.op("RandomStandardNormal", "z", "shape").attr("T", DType.INT32).attr("dtype", DType.FLOAT).attr("seed", 0L)
        .attr("seed2", 0L);
    Map<String, Tensor> feeds = Map.of("shape", Tensor.ofInts(new long[] {2}, n / 100, 100));
    Map<String, Tensor> tf = TfReference.run(b.build(), null, feeds, List.of("u", "z"));
    for (int opset : new int[] {17, 23}) {
      Converter.Result conv = OpParity.convert(b.build(), List.of("u", "z"), opset);
      Map<String, Tensor> ort = OpParity.runOnnx(conv, feeds);
      assertEquals(opset >= 22 ? 0 : 1, conv.graph().count("RandomUniformLike"), conv.graph().opHistogram().toString());
      float[] u = ort.get("u").toFloats(), tu = tf.get("u").toFloats();
      assertEquals(n, u.length);
      for (float v : u) assertTrue(v >= 0f && v < 1f, "uniform in [0, 1): " + v);
      double[] hu = histogram(u, 0, 1), htf = histogram(tu, 0, 1);
      for (int i = 0; i < 10; i++) assertEquals(htf[i], hu[i], 0.006, "opset " + opset + " uniform bin " + i);
      assertEquals(mean(tu), mean(u), 0.004, "opset " + opset + " uniform mean");
      float[] z = ort.get("z").toFloats(), tz = tf.get("z").toFloats();
      assertEquals(mean(tz), mean(z), 0.01, "opset " + opset + " normal mean");
      assertEquals(std(tz), std(z), 0.01, "opset " + opset + " normal std");
      double[] hz = histogram(z, -2.5, 2.5), htz = histogram(tz, -2.5, 2.5);
      for (int i = 0; i < 10; i++) assertEquals(htz[i], hz[i], 0.006, "opset " + opset + " normal bin " + i);
    }
  }

  private static double mean(float[] v) {
    double s = 0;
    for (float x : v) s += x;
    return s / v.length;
  }

  private static double std(float[] v) {
    double m = mean(v), s = 0;
    for (float x : v) s += (x - m) * (x - m);
    return Math.sqrt(s / v.length);
  }

  /** Fractions of the values in 10 equal bins over [lo, hi) (values outside count in no bin). */
  private static double[] histogram(float[] v, double lo, double hi) {
    double[] h = new double[10];
    for (float x : v) {
      int i = (int) Math.floor((x - lo) / (hi - lo) * 10);
      if (i >= 0 && i < 10) h[i] += 1.0 / v.length;
    }
    return h;
  }
}
