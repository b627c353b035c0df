package returnn.onnx.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.tensorflow.proto.GraphDef;
import picocli.CommandLine.Option;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.FrozenCnnFixtures;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.verify.Comparison;

/**
 * {@code bench --cnn}: the layout pass on frozen NHWC CNNs. Each graph is converted with fusions (Transposes pushed
 * until they cancel, batch norm folded into the Convs) and with {@code --no-fuse} (on these graphs: the same
 * conversion without the layout rules; the fused run's rule counts are printed to show it), then both run on one
 * thread by ONNX Runtime, in turns, with its full graph optimizations (which include its own transpose optimizer)
 * and with none. Prints Transpose counts, medians and the median of per-round before/after ratios, and the largest
 * difference to TensorFlow.
 */
public final class CnnBench {
  /** The benchmark's options (a picocli mixin of {@code bench}). */
  public static final class Options {
    @Option(names = "--cnn", description = "Frozen NHWC CNNs: the layout pass (Transposes, folded batch norm) in ONNX Runtime.")
    public boolean enabled;

    @Option(names = "--cnn-batch", defaultValue = "1", description = "Batch size of --cnn (default ${DEFAULT-VALUE}).")
    public int batch;
  }

  private CnnBench() {}

  private record Model(String name, GraphDef graph, Tensor input) {}

  public static void run(Options o, Path dir, int repeat) throws IOException {
    FrozenCnnFixtures.Sizes s = FrozenCnnFixtures.Sizes.BENCH;
    Random r = new Random(5);
    List<Model> models = List.of(
        new Model("mobilenet-like " + s.height() + "x" + s.width() + ", channels " + s.c1() + "/" + s.c2() + "/" + s.c3(),
            FrozenCnnFixtures.mobileNetLike(s), normal(r, o.batch, s.height(), s.width(), 3)),
        new Model("returnn conv front end, 500 frames x 80 features, 32/64 channels",
            FrozenCnnFixtures.returnnConvFrontEnd(80, 32, 64, 500), normal(r, o.batch, 500, 80)));
    System.out.printf("%-66s %9s %9s | %-8s %12s %12s %9s %16s | %s%n", "model (B " + o.batch + ")", "Transpose", "Conv",
        "ORT opt", "before ms", "after ms", "ratio", "(fastest runs)", "max |after - TF|");
    for (int n = 0; n < models.size(); n++) {
      Model m = models.get(n);
      Path pb = dir.resolve("cnn" + n + ".pb");
      Files.write(pb, m.graph().toByteArray());
      List<String> out = List.of(FrozenCnnFixtures.OUTPUT);
      Converter.Result before = Converter.convert(ConvertOptions.of(pb, null, out).withFuse(false));
      Converter.Result after = Converter.convert(ConvertOptions.of(pb, null, out));
      before.write(dir.resolve("cnn" + n + "_no_fuse.onnx"));
      after.write(dir.resolve("cnn" + n + ".onnx"));
      Map<String, Tensor> feeds = Map.of(FrozenCnnFixtures.INPUT, m.input());
      Map<String, Tensor> tf = TfReference.run(m.graph(), null, Map.of(FrozenCnnFixtures.INPUT + ":0", m.input()),
          List.of(FrozenCnnFixtures.OUTPUT));
      for (boolean optimize : new boolean[] {true, false}) {
        double[][] ms = new double[2][repeat];
        Map<String, Tensor> afterOut = null;
        OnnxSession.Options so = new OnnxSession.Options(1, optimize);
        try (OnnxSession b = OnnxSession.open(before.toBytes(), so); OnnxSession a = OnnxSession.open(after.toBytes(), so)) {
          for (int i = -2; i < repeat; i++) {
            // Both models take turns, in alternating order, so drift in machine speed hits both alike.
            for (int k = 0; k < 2; k++) {
              int which = Math.floorMod(i + k, 2);
              long t0 = System.nanoTime();
              if (which == 0) b.run(feeds);
              else afterOut = a.run(feeds);
              if (i >= 0) ms[which][i] = (System.nanoTime() - t0) / 1e6;
            }
          }
        }
        double[] ratios = new double[repeat];
        for (int i = 0; i < repeat; i++) ratios[i] = ms[0][i] / ms[1][i];
        double diff = Comparison.of("output", tf.get(FrozenCnnFixtures.OUTPUT), afterOut.get("output/Softmax")).maxAbs();
        System.out.printf("%-66s %4d->%-4d %4d->%-4d | %-8s %12.2f %12.2f %8.2fx %15.2fx | %.2g%n", m.name(),
            before.graph().count("Transpose"), after.graph().count("Transpose"), before.graph().count("Conv"),
            after.graph().count("Conv"), optimize ? "all" : "none", ConformerBench.median(ms[0]),
            ConformerBench.median(ms[1]), ConformerBench.median(ratios), ConformerBench.min(ms[0]) / ConformerBench.min(ms[1]),
            diff);
      }
      System.out.printf("  rules fired with fusions: %s%n", after.report().rulesFired);
    }
  }

  private static Tensor normal(Random r, long... shape) {
    float[] v = new float[(int) Tensor.count(shape)];
    for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
    return Tensor.ofFloats(shape, v);
  }
}
