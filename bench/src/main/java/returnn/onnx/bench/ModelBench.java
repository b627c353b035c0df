package returnn.onnx.bench;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphDef;
import picocli.CommandLine.Option;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.fixtures.lstm.LstmTwin;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.io.OnnxWriter;
import returnn.onnx.quantize.QuantizationReport;
import returnn.onnx.quantize.QuantizeOptions;
import returnn.onnx.quantize.Quantizer;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.GraphReader;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.tf.TfModel;

/**
 * {@code bench --graph G --checkpoint C} (or {@code --fixture lstm-lm|lstm-lm-block|conformer}): the table users compare by, on one
 * model, every row on the same data with the same threads: TensorFlow on the original graph (the TF twin for RETURNN's
 * LSTM kernels), ONNX {@code --no-fuse} fp32 and int8, ONNX fused fp32 and int8, and for the LSTM LM fixture a
 * hand-written fused ONNX model of the same network. Columns: total time over the data, per-call latency median and
 * p90, model size, and the task metric (perplexity for LMs, frame error against TF for other models). One call per
 * sequence (batch 1); rows take turns, starting with a different one for each sequence, so drift in machine speed hits
 * all alike; ratios are medians of per-pass ratios.
 */
public final class ModelBench {
  /** The benchmark's options (a picocli mixin of {@code bench}). */
  public static final class Options {
    @Option(names = "--graph", description = "Table of TF vs ONNX unfused/fused, fp32/int8 on this RETURNN graph (.meta, .pb, ... or SavedModel).")
    public Path graph;

    @Option(names = "--checkpoint", description = "The graph's checkpoint prefix.")
    public Path checkpoint;

    @Option(names = "--outputs", description = "TF output tensor (default: output/output_batch_major).")
    public String outputs;

    @Option(names = "--fixture", description = "Instead of --graph, generate a model: lstm-lm (2 x 512 NativeLstm2, vocab "
        + "10k), lstm-lm-block (the same LM with TF's BlockLSTM, which TF runs itself) or conformer (6 blocks, d 256).")
    public String fixture;

    @Option(names = "--data", description = "Token ids of an LM, one sequence a line (default: sampled from the model for "
        + "--fixture lstm-lm, random otherwise; acoustic models get Gaussian features).")
    public Path data;

    @Option(names = "--sequences", defaultValue = "0", description = "Sequences generated (default: 20 for LMs, 10 otherwise).")
    public int sequences;

    @Option(names = "--seq-length", defaultValue = "0", description = "Frames per generated sequence (default: 100 for LMs, 400 otherwise).")
    public int length;

    @Option(names = "--threads", defaultValue = "1", description = "Threads of every engine (default ${DEFAULT-VALUE}).")
    public int threads;

    @Option(names = "--plot", description = "Also draw the total times as a bar chart (PNG).")
    public Path plot;

    public boolean enabled() {
      return graph != null || fixture != null;
    }
  }

  /** A model to bench: its graph and checkpoint, the TF graph to run, and for the LM fixture the fixture itself. */
  private record Model(String name, Path graph, Path checkpoint, String output, GraphDef tfGraph, String tfLabel, Fixture lm) {}

  /** One converted model written fp32 and int8, with the time each step took. */
  private record Converted(Path fp32, Path int8, long convertMs, long quantizeMs, QuantizationReport report, Map<String, Integer> ops) {}

  /** A table row: its engine, as a function from TF-named feeds to the output. */
  private record Row(String name, Function<Map<String, Tensor>, Tensor> run, long bytes) {}

  private ModelBench() {}

  /** Runs the table; {@code q}: how the int8 rows are quantized (the {@code bench} command's quantization flags). */
  public static void run(Options o, QuantizeOptions q, Path dir, int repeat) throws IOException {
    run(o, q, dir, repeat, (done, total) -> {});
  }

  /** As {@link #run(Options, QuantizeOptions, Path, int)}; {@code progress} hears (model calls done, total) after each call. */
  public static void run(Options o, QuantizeOptions q, Path dir, int repeat, BiConsumer<Long, Long> progress) throws IOException {
    if (o.plot != null) {
      List<Path> ins = new ArrayList<>(returnn.onnx.SafePaths.checkpointFiles(o.checkpoint));
      ins.add(o.graph);
      ins.add(o.data);
      returnn.onnx.SafePaths.checkOutput(o.plot, ins);
    }
    Model m = model(o, dir);
    Converted fused = convert(m, true, q, dir), plain = convert(m, false, q, dir);
    System.out.printf("model: %s (%s)%n", m.name(), m.graph());
    System.out.printf("conversion: fused %d ms, --no-fuse %d ms; quantization: fused %d ms, --no-fuse %d ms (%s)%n",
        fused.convertMs(), plain.convertMs(), fused.quantizeMs(), plain.quantizeMs(), q.describe());
    System.out.printf("fused fp32 ops: %s%nfused int8: %s%n", fused.ops(), fused.report().counts());
    Path hand = null;
    if (m.lm() != null) {
      hand = dir.resolve("lm_hand_written.onnx");
      OnnxWriter.write(HandWrittenLm.full(m.lm(), BenchFixtures.LM_SIZES), HandWrittenLm.OPSET, Map.of(), hand);
    }
    OnnxSession.Options so = new OnnxSession.Options(o.threads, true);
    ConfigProto tfConfig = ConfigProto.newBuilder().setIntraOpParallelismThreads(o.threads).setInterOpParallelismThreads(1).build();
    List<AutoCloseable> open = new ArrayList<>();
    try {
      OnnxSession fusedFp32 = track(open, OnnxSession.open(fused.fp32(), so));
      List<BenchData.Sequence> data = data(o, m, fusedFp32, dir);
      List<Row> rows = new ArrayList<>();
      TfReference tf = track(open, TfReference.open(m.tfGraph(), m.checkpoint(), tfConfig));
      rows.add(new Row(m.tfLabel(), feeds -> tf.run(feeds, List.of(m.output())).get(m.output()), tfBytes(m)));
      rows.add(onnxRow("ONNX unfused (--no-fuse) fp32", track(open, OnnxSession.open(plain.fp32(), so)), plain.fp32(), m));
      rows.add(onnxRow("ONNX unfused (--no-fuse) int8", track(open, OnnxSession.open(plain.int8(), so)), plain.int8(), m));
      rows.add(onnxRow("ONNX fused fp32", fusedFp32, fused.fp32(), m));
      rows.add(onnxRow("ONNX fused int8", track(open, OnnxSession.open(fused.int8(), so)), fused.int8(), m));
      if (hand != null) rows.add(onnxRow("hand-written fused fp32 (yardstick)", track(open, OnnxSession.open(hand, so)), hand, m));
      measure(o, m, rows, data, repeat, progress);
    } finally {
      for (int i = open.size() - 1; i >= 0; i--) {
        try {
          open.get(i).close();
        } catch (Exception e) {
          System.err.println("warning: closing an engine failed: " + e.getMessage());
        }
      }
    }
  }

  private static <T extends AutoCloseable> T track(List<AutoCloseable> open, T t) {
    open.add(t);
    return t;
  }

  private static void measure(Options o, Model m, List<Row> rows, List<BenchData.Sequence> data, int repeat,
      BiConsumer<Long, Long> progress) throws IOException {
    int r = rows.size(), n = data.size();
    long calls = (long) r * (Math.min(2, n) + (long) repeat * n), done = 0;
    double[][][] ms = new double[r][repeat][n];
    TaskMetric metric = new TaskMetric(data.get(0).tokens() != null, r, n);
    for (int pass = -1; pass < repeat; pass++) {
      for (int s = 0; s < (pass < 0 ? Math.min(2, n) : n); s++) {
        for (int j = 0; j < r; j++) {
          int k = Math.floorMod(s + j + Math.max(pass, 0), r);
          long t0 = System.nanoTime();
          Tensor out = rows.get(k).run().apply(data.get(s).feeds());
          long dt = System.nanoTime() - t0;
          progress.accept(++done, calls);
          if (pass < 0) continue;
          ms[k][pass][s] = dt / 1e6;
          if (pass == repeat - 1) metric.add(k, s, data.get(s), out);
        }
      }
    }
    BenchTable t = new BenchTable(rows.stream().map(Row::name).toList(), rows.stream().map(Row::bytes).toList(), ms, metric);
    System.out.print(t.markdown());
    System.out.print(t.summary());
    if (o.plot != null) {
      BarChart.write(o.plot, m.name() + ": total time over " + n + " sequences, " + o.threads + " thread(s)",
          "total time (s): median of " + repeat + " pass(es), whiskers ± 1 standard deviation", t.names(), t.totalSeconds(),
          t.totalSecondsDeviation());
      System.out.println("plot: " + o.plot);
    }
  }

  private static Row onnxRow(String name, OnnxSession s, Path file, Model m) throws IOException {
    String out = TensorRef.parse(m.output()).onnxName();
    List<String> fetch = List.of(out);
    return new Row(name, feeds -> {
      Map<String, Tensor> in = new LinkedHashMap<>();
      feeds.forEach((k, v) -> in.put(TensorRef.parse(k).onnxName(), v));
      return s.run(in, fetch).get(out);
    }, OnnxWriter.bytesOnDisk(file));
  }

  private static Converted convert(Model m, boolean fuse, QuantizeOptions q, Path dir) throws IOException {
    String base = fuse ? "fused" : "no_fuse";
    Path fp32 = dir.resolve(base + "_fp32.onnx"), int8 = dir.resolve(base + "_int8.onnx");
    long t0 = System.nanoTime();
    Converter.Result r = Converter.convert(ConvertOptions.of(m.graph(), m.checkpoint(), List.of(m.output())).withFuse(fuse));
    r.write(fp32);
    long t1 = System.nanoTime();
    Map<String, Integer> ops = r.graph().opHistogram();
    QuantizationReport rep = Quantizer.quantize(r.graph(), q, r.opset());
    r.metadata().put(Quantizer.METADATA_KEY, q.describe());
    r.write(int8);
    long t2 = System.nanoTime();
    return new Converted(fp32, int8, (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000, rep, ops);
  }

  /** The model: a fixture ({@link BenchFixtures}) written to {@code dir}, or the given graph. */
  private static Model model(Options o, Path dir) {
    if (o.fixture != null && o.graph != null) throw new IllegalArgumentException("give --graph or --fixture, not both");
    if (o.fixture == null) {
      if (o.checkpoint == null) throw new IllegalArgumentException("--graph needs --checkpoint");
      TfModel tm = GraphReader.read(o.graph);
      String out = o.outputs != null ? o.outputs : ConvertOptions.DEFAULT_OUTPUT;
      boolean custom = tm.graph().getNodeList().stream().anyMatch(n -> LSTM_KERNELS.contains(n.getOp()));
      return new Model(o.graph.getFileName().toString(), o.graph, o.checkpoint, out, custom ? LstmTwin.of(tm.graph()) : tm.graph(),
          custom ? "TensorFlow (TF twin of the LSTM kernels)" : "TensorFlow (original graph)", null);
    }
    // The LM fixtures also give the hand-written yardstick and the sampled text, from the NativeLstm2 LM's weights.
    Fixture nativeLm = o.fixture.startsWith("lstm-lm") ? BenchFixtures.lstmLm() : null;
    Fixture f = switch (o.fixture) {
      case "lstm-lm" -> nativeLm;
      case "lstm-lm-block" -> BenchFixtures.lstmLmBlock(nativeLm, BenchFixtures.LM_SIZES);
      case "conformer" -> BenchFixtures.conformer();
      default -> throw new IllegalArgumentException("--fixture " + o.fixture + " is not one of lstm-lm, lstm-lm-block, conformer");
    };
    // Not TF's SaveV2: TF would size its thread pools then, and run every later session on all cores (see writeWithoutTf).
    FixtureWriter.Written w = f.writeWithoutTf(dir, GraphFormat.META);
    boolean twin = o.fixture.equals("lstm-lm");
    String out = nativeLm != null ? LstmFixtures.OUTPUT : Fixtures.OUTPUT;
    String label = twin ? "TensorFlow (TF twin of NativeLstm2)"
        : "TensorFlow (original graph" + (nativeLm != null ? ", BlockLSTM)" : ")");
    return new Model(f.name(), w.graph(), w.checkpointPrefix(), out, twin ? LstmTwin.of(f.graph()) : f.graph(), label, nativeLm);
  }

  private static final List<String> LSTM_KERNELS = List.of("NativeLstm2", "LstmGenericBase", "LstmLowMem");

  /** The evaluation sequences, fed as the model's inputs want them (read from the fused model's inputs). */
  private static List<BenchData.Sequence> data(Options o, Model m, OnnxSession s, Path dir) throws IOException {
    String tokens = null, features = null, lengths = null;
    DType tokenType = DType.INT32;
    long featureDim = -1;
    for (Map.Entry<String, NodeInfo> e : s.inputInfo().entrySet()) {
      TensorInfo t = (TensorInfo) e.getValue().getInfo();
      String tfName = e.getKey().matches(".*:\\d+") ? e.getKey() : e.getKey() + ":0";
      boolean integer = t.type == ai.onnxruntime.OnnxJavaType.INT32 || t.type == ai.onnxruntime.OnnxJavaType.INT64;
      if (integer && t.getShape().length == 2) {
        tokens = tfName;
        tokenType = t.type == ai.onnxruntime.OnnxJavaType.INT64 ? DType.INT64 : DType.INT32;
      } else if (integer && t.getShape().length == 1) {
        lengths = tfName;
      } else if (t.type == ai.onnxruntime.OnnxJavaType.FLOAT && t.getShape().length == 3 && t.getShape()[2] > 0) {
        features = tfName;
        featureDim = t.getShape()[2];
      } else {
        throw new IllegalArgumentException("bench cannot feed input " + e.getKey() + " " + t + " (it feeds [B,T] ids, [B,T,F] "
            + "features and [B] lengths)");
      }
    }
    if (tokens != null) {
      int count = o.sequences > 0 ? o.sequences : 20, length = o.length > 0 ? o.length : 100;
      List<int[]> ids;
      if (o.data != null) {
        ids = BenchData.readIds(o.data);
        System.out.printf("data: %d sequences from %s%n", ids.size(), o.data);
      } else if (m.lm() != null) {
        Path step = dir.resolve("lm_step.onnx");
        OnnxWriter.write(HandWrittenLm.step(m.lm(), BenchFixtures.LM_SIZES), HandWrittenLm.OPSET, Map.of(), step);
        ids = BenchData.sample(step, BenchFixtures.LM_SIZES.layers(), BenchFixtures.LM_SIZES.hidden(), BenchFixtures.LM_SIZES.vocab(), count, length, 1);
        Path file = dir.resolve("lm_sampled.txt");
        BenchData.writeIds(file, ids);
        System.out.printf("data: %d sequences of %d tokens sampled from the model (%s)%n", count, length, file);
      } else {
        int vocab = vocabulary(s, m, tokens, tokenType, lengths);
        ids = BenchData.randomIds(count, length, vocab, 1);
        System.out.printf("data: %d sequences of %d random tokens below %d (give --data for a meaningful perplexity)%n", count, length, vocab);
      }
      return BenchData.tokens(ids, tokens, tokenType, lengths);
    }
    if (features == null) throw new IllegalArgumentException("the model has no [B,T] ids or [B,T,F] features input");
    if (o.data != null) throw new IllegalArgumentException("--data holds token ids; this model takes features");
    int count = o.sequences > 0 ? o.sequences : 10, length = o.length > 0 ? o.length : 400;
    System.out.printf("data: %d sequences of %d frames of %d Gaussian features%n", count, length, featureDim);
    return BenchData.features(count, length, (int) featureDim, features, lengths, 1);
  }

  /** The size of the output's last axis, from one call. */
  private static int vocabulary(OnnxSession s, Model m, String tokens, DType type, String lengths) {
    Map<String, Tensor> feeds = BenchData.tokens(List.<int[]>of(new int[] {0, 0}), tokens, type, lengths).get(0).feeds();
    Map<String, Tensor> in = new LinkedHashMap<>();
    feeds.forEach((k, v) -> in.put(TensorRef.parse(k).onnxName(), v));
    String out = TensorRef.parse(m.output()).onnxName();
    long[] shape = s.run(in, List.of(out)).get(out).shape();
    return (int) shape[shape.length - 1];
  }

  /** The TF model's size: graph file plus checkpoint (index and data shards). */
  private static long tfBytes(Model m) {
    try {
      long n = Files.isDirectory(m.graph()) ? 0 : Files.size(m.graph());
      Path dir = m.checkpoint().toAbsolutePath().getParent();
      String prefix = m.checkpoint().getFileName().toString() + ".";
      try (var files = Files.list(dir)) {
        for (Path p : files.filter(p -> p.getFileName().toString().startsWith(prefix)).toList()) n += Files.size(p);
      }
      return n;
    } catch (IOException e) {
      return -1;
    }
  }
}
