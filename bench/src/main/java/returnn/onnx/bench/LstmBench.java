package returnn.onnx.bench;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.proto.ConfigProto;
import picocli.CommandLine.Option;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.fixtures.lstm.LstmTwin;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.io.OnnxWriter;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Comparison;

/**
 * {@code bench --lstm}: a stack of NativeLstm2 layers (default 2 × 512 units, T = 100, B = 1) on one thread. The
 * converted model against (1) a hand-written ONNX model of the same network (Transpose, LSTM, Squeeze per layer,
 * Transpose; weights reordered by hand): the target is within 5%; (2) TensorFlow running the TF twin (each
 * NativeLstm2 a TF1 while loop); (3) the {@code --no-fuse} model (each kernel an ONNX Loop). Engines take turns on the
 * same feeds; medians over the repetitions, ratios from the same process.
 */
public final class LstmBench {
  /** The benchmark's options (a picocli mixin of {@code bench}). */
  public static final class Options {
    @Option(names = "--lstm", description = "LSTM stack: converted vs hand-written fused ONNX, TF twin and --no-fuse.")
    public boolean enabled;

    @Option(names = "--lstm-units", defaultValue = "512", description = "Units (and input features) per layer (default ${DEFAULT-VALUE}).")
    public int units;

    @Option(names = "--lstm-layers", defaultValue = "2", description = "LSTM layers (default ${DEFAULT-VALUE}).")
    public int layers;

    @Option(names = "--lstm-time", defaultValue = "100", description = "Frames T (default ${DEFAULT-VALUE}).")
    public int time;

    @Option(names = "--lstm-batch", defaultValue = "1", description = "Batch size B (default ${DEFAULT-VALUE}).")
    public int batch;
  }

  private LstmBench() {}

  public static void run(Options o, Path dir, int repeat) {
    Fixture f = LstmFixtures.lstmStack(VariableKind.RESOURCE, o.units, o.units, o.layers);
    FixtureWriter.Written w = f.writeWithoutTf(dir, GraphFormat.META); // TF's first session is the one-thread reference
    String out = f.outputs().get(0);
    String outName = TensorRef.parse(out).onnxName();
    Path fusedPath = dir.resolve("lstm_fused.onnx");
    Path loopPath = dir.resolve("lstm_no_fuse.onnx");
    Path handPath = dir.resolve("lstm_hand_written.onnx");
    Converter.Result fused = convert(w, f, true, fusedPath);
    Converter.Result loops = convert(w, f, false, loopPath);
    OnnxWriter.write(handWritten(f, o), 17, Map.of(), handPath);
    System.out.printf("lstm: %d layers x %d units, T %d, B %d, one thread; converted model: %d LSTM, %d Loop, %d nodes "
            + "(%s); --no-fuse: %d Loop%n", o.layers, o.units, o.time, o.batch, fused.graph().count("LSTM"),
        fused.graph().count("Loop"), fused.graph().nodes().size(), fused.graph().opHistogram(), loops.graph().count("Loop"));

    int[] lengths = new int[o.batch];
    java.util.Arrays.fill(lengths, o.time);
    Map<String, Tensor> feeds = f.randomFeeds(17, lengths);
    Map<String, Tensor> onnxFeeds = new LinkedHashMap<>();
    feeds.forEach((k, v) -> onnxFeeds.put(TensorRef.parse(k).onnxName(), v));
    List<String> fetch = List.of(outName);
    ConfigProto oneThread = ConfigProto.newBuilder().setIntraOpParallelismThreads(1).setInterOpParallelismThreads(1).build();
    String[] names = {"converted", "hand-written", "TF twin", "--no-fuse"};
    double[][] ms = new double[names.length][repeat];
    List<Map<String, Tensor>> last = new java.util.ArrayList<>(java.util.Collections.nCopies(names.length, null));
    try (OnnxSession sFused = OnnxSession.open(fusedPath, OnnxSession.Options.singleThread());
         OnnxSession sHand = OnnxSession.open(handPath, OnnxSession.Options.singleThread());
         OnnxSession sLoops = OnnxSession.open(loopPath, OnnxSession.Options.singleThread());
         TfReference tf = TfReference.open(LstmTwin.of(f.graph()), w.checkpointPrefix(), oneThread)) {
      List<java.util.function.Supplier<Map<String, Tensor>>> engines = List.of(() -> sFused.run(onnxFeeds, fetch),
          () -> sHand.run(onnxFeeds, fetch), () -> tf.run(feeds, List.of(out)), () -> sLoops.run(onnxFeeds, fetch));
      for (int i = -2; i < repeat; i++) {
        // Engines take turns, starting with a different one each round, so machine drift and cache effects of the
        // engine before hit all alike.
        for (int j = 0; j < names.length; j++) {
          int k = Math.floorMod(i + j, names.length);
          long t0 = System.nanoTime();
          last.set(k, engines.get(k).get());
          if (i >= 0) ms[k][i] = (System.nanoTime() - t0) / 1e6;
        }
      }
    }
    Map<String, Tensor> converted = last.get(0);
    Map<String, Tensor> hand = last.get(1);
    Map<String, Tensor> twin = last.get(2);
    // Per-round ratios against the converted model: both runs of a round see the same machine load, which varies
    // between rounds on a shared machine, so their median is steadier than a ratio of medians.
    double[][] ratio = new double[names.length][repeat];
    for (int k = 0; k < names.length; k++) for (int i = 0; i < repeat; i++) ratio[k][i] = ms[k][i] / ms[0][i];
    for (int k = 0; k < names.length; k++) {
      System.out.printf("  %-13s median %8.2f ms over %d runs%n", names[k], ConformerBench.median(ms[k]), repeat);
    }
    System.out.printf("converted / hand-written fused ONNX: %.3fx (target <= 1.05x); max |converted - hand-written| %.2g%n",
        1 / ConformerBench.median(ratio[1]), Comparison.of(outName, hand.get(outName), converted.get(outName)).maxAbs());
    System.out.printf("TF twin / converted: %.2fx faster; max |converted - TF twin| %.2g%n", ConformerBench.median(ratio[2]),
        Comparison.of(outName, twin.get(out), converted.get(outName)).maxAbs());
    System.out.printf("--no-fuse (ONNX Loop) / converted: %.2fx faster%n", ConformerBench.median(ratio[3]));
  }

  private static Converter.Result convert(FixtureWriter.Written w, Fixture f, boolean fuse, Path out) {
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withFuse(fuse));
    r.write(out);
    return r;
  }

  /**
   * The same network written by hand: x [B,T,F] → Transpose → per layer LSTM (W from {@code lstmK/rec/W} and
   * {@code b}, R from {@code W_re}, RETURNN's j,i,f,o blocks reordered to ONNX i,o,f,c, lengths as sequence_lens) →
   * Squeeze → Transpose back.
   */
  private static Graph handWritten(Fixture f, Options o) {
    Graph g = new Graph("lstm_hand_written");
    Value x = g.addInput(TensorRef.parse(f.inputs().get(0).tensorName()).onnxName(), DType.FLOAT,
        Shape.of(Dim.sym("batch"), Dim.sym("time"), Dim.of(o.units)));
    Value lengths = g.addInput(TensorRef.parse(f.inputs().get(1).tensorName()).onnxName(), DType.INT32,
        Shape.of(Dim.sym("batch")));
    OnnxBuilder b = new OnnxBuilder(g, 17, "hand", null);
    Value h = b.transpose(x, 1, 0, 2);
    int n = o.units;
    for (int k = 0; k < o.layers; k++) {
      Node lstm = HandWrittenLm.lstm(g, b, f, n, k, h, lengths, null, null);
      h = b.squeeze(lstm.output(0), 1);
    }
    Value y = b.transpose(h, 1, 0, 2);
    y.setName(TensorRef.parse(f.outputs().get(0)).onnxName());
    g.addOutput(y);
    return g;
  }
}
