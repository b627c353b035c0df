package returnn.onnx.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.tensorflow.proto.ConfigProto;
import picocli.CommandLine.Option;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.transformer.ConformerDims;
import returnn.onnx.fixtures.transformer.TransformerFixtures;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Comparison;

/**
 * {@code bench --conformer}: a Conformer encoder (front end + blocks, d 256, 4 heads, ff 1024, kernel 31) converted
 * with and without fusions, run on one thread by ONNX Runtime (its default, full graph optimizations) and by
 * TensorFlow on the original graph, on the same padded batches. T counts encoder frames (after the front end's
 * subsampling by 2, so 2T input frames). Reports medians (after one warm-up run) and ratios measured in one process.
 */
public final class ConformerBench {
  /** The benchmark's options (a picocli mixin of {@code bench}). */
  public static final class Options {
    @Option(names = "--conformer", description = "Conformer encoder: fused vs --no-fuse in ONNX Runtime, and TensorFlow.")
    public boolean enabled;

    @Option(names = "--blocks", defaultValue = "6", description = "Conformer blocks (default ${DEFAULT-VALUE}).")
    public int blocks;

    @Option(names = "--batch", split = ",", defaultValue = "1,8", description = "Batch sizes (default ${DEFAULT-VALUE}).")
    public int[] batches;

    @Option(names = "--frames", split = ",", defaultValue = "200,1000",
        description = "Encoder frames T (default ${DEFAULT-VALUE}); inputs have 2T frames.")
    public int[] frames;

    @Option(names = "--no-tf", description = "Skip the TensorFlow column.")
    public boolean noTf;
  }

  private ConformerBench() {}

  /**
   * One measured configuration: median milliseconds per run, and the fused/no-fuse ratio of the fastest runs too
   * (on a shared machine other processes only ever add time, so the fastest run is the least disturbed).
   */
  record Row(int batch, int frames, double tfMs, double unfusedMs, double fusedMs, double minRatio, double maxAbsFusedVsTf) {}

  public static void run(Options o, Path dir, int repeat) throws IOException {
    ConformerDims dims = TransformerFixtures.benchConformer();
    Fixture f = TransformerFixtures.conformer(VariableKind.RESOURCE, dims, o.blocks);
    // TF's first session is the one-thread reference (see writeWithoutTf).
    FixtureWriter.Written w = f.writeWithoutTf(dir, GraphFormat.META);
    Path fusedPath = dir.resolve("conformer_fused.onnx");
    Path plainPath = dir.resolve("conformer_no_fuse.onnx");
    Converter.Result fused = convert(w, f, true, fusedPath);
    Converter.Result plain = convert(w, f, false, plainPath);
    System.out.printf("conformer: %d blocks, d %d, %d heads, ff %d, kernel %d; fused model: %d MultiHeadAttention, "
            + "%d LayerNormalization, %d nodes; --no-fuse: %d nodes%n", o.blocks, dims.model(), dims.heads(), dims.ff(),
        dims.kernel(), fused.graph().count("com.microsoft.MultiHeadAttention"), fused.graph().count("LayerNormalization"),
        fused.graph().nodes().size(), plain.graph().nodes().size());
    ConfigProto oneThread = ConfigProto.newBuilder().setIntraOpParallelismThreads(1).setInterOpParallelismThreads(1).build();
    List<Row> rows = new ArrayList<>();
    try (OnnxSession fusedSession = OnnxSession.open(fusedPath, OnnxSession.Options.singleThread());
         OnnxSession plainSession = OnnxSession.open(plainPath, OnnxSession.Options.singleThread());
         TfReference tf = o.noTf ? null : TfReference.open(f.graph(), w.checkpointPrefix(), oneThread)) {
      for (int b : o.batches) {
        for (int t : o.frames) {
          Map<String, Tensor> feeds = feeds(f, b, t, dims.features());
          Map<String, Tensor> onnxFeeds = new LinkedHashMap<>();
          feeds.forEach((k, v) -> onnxFeeds.put(TensorRef.parse(k).onnxName(), v));
          List<String> fetch = List.of(TensorRef.parse(Fixtures.OUTPUT).onnxName());
          double[][] ms = new double[3][repeat];
          Map<String, Tensor> fusedOut = null, tfOut = null;
          for (int i = -1; i < repeat; i++) {
            // Engines take turns, in rotating order, so drift in machine speed hits all three alike.
            for (int k = 0; k < 3; k++) {
              int engine = Math.floorMod(i + k, 3);
              long t0 = System.nanoTime();
              switch (engine) {
                case 0 -> {
                  if (tf != null) tfOut = tf.run(feeds, List.of(Fixtures.OUTPUT));
                }
                case 1 -> plainSession.run(onnxFeeds, fetch);
                default -> fusedOut = fusedSession.run(onnxFeeds, fetch);
              }
              if (i >= 0) ms[engine][i] = (System.nanoTime() - t0) / 1e6;
            }
          }
          double diff = tfOut == null ? Double.NaN
              : Comparison.of("output", tfOut.get(Fixtures.OUTPUT), fusedOut.get(fetch.get(0))).maxAbs();
          rows.add(new Row(b, t, tf == null ? Double.NaN : median(ms[0]), median(ms[1]), median(ms[2]),
              min(ms[1]) / min(ms[2]), diff));
          print(rows.get(rows.size() - 1), rows.size() == 1);
        }
      }
    }
  }

  private static Converter.Result convert(FixtureWriter.Written w, Fixture f, boolean fuse, Path out) {
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), List.of(Fixtures.OUTPUT)).withFuse(fuse));
    r.write(out);
    return r;
  }

  /** Features [B,2T,F] and lengths from 2T down to about 3/4 of it (a padded batch, as in decoding). */
  private static Map<String, Tensor> feeds(Fixture f, int batch, int frames, int features) {
    int inFrames = 2 * frames;
    int[] lengths = new int[batch];
    for (int i = 0; i < batch; i++) lengths[i] = inFrames - i * inFrames / (4 * Math.max(1, batch - 1) + 1);
    Random r = new Random(17);
    float[] x = new float[batch * inFrames * features];
    for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    feeds.put(Fixtures.DATA + ":0", Tensor.ofFloats(new long[] {batch, inFrames, features}, x));
    feeds.put(Fixtures.DATA_LENGTHS + ":0", Tensor.ofInts(new long[] {batch}, lengths));
    return feeds;
  }

  private static void print(Row r, boolean header) {
    if (header) {
      System.out.printf("%3s %6s %7s | %10s %14s %12s | %14s %18s %9s | %s%n", "B", "T", "frames", "TF ms", "ORT no-fuse ms",
          "ORT fused ms", "no-fuse/fused", "(fastest runs)", "TF/fused", "max |fused - TF|");
    }
    System.out.printf("%3d %6d %7d | %10.1f %14.1f %12.1f | %13.2fx %17.2fx %8.2fx | %.2g%n", r.batch(), r.frames(), 2 * r.frames(),
        r.tfMs(), r.unfusedMs(), r.fusedMs(), r.unfusedMs() / r.fusedMs(), r.minRatio(), r.tfMs() / r.fusedMs(),
        r.maxAbsFusedVsTf());
  }

  static double min(double[] v) {
    return Arrays.stream(v).min().orElse(Double.NaN);
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
