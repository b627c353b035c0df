package returnn.onnx.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.tf.checkpoint.CheckpointReader;
import returnn.onnx.tf.checkpoint.CheckpointWriter;

@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Benchmarks: --synthetic (conversion time of a ~20,000-node graph; checkpoint reading vs a file copy), --lstm, --conformer (fused vs unfused vs TF), --cnn (the layout pass on frozen CNNs), --graph/--fixture (the fp32/int8 table).")
final class BenchCommand implements Callable<Integer> {
  @Option(names = "--synthetic", description = "Run the converter's own speed benchmarks.")
  boolean synthetic;

  @Option(names = "--layers", defaultValue = "1430", description = "Linear layers in the synthetic graph (14 nodes each; default ~20,000 nodes).")
  int layers;

  @Option(names = "--checkpoint-mb", defaultValue = "500", description = "Size of the synthetic checkpoint in MB.")
  int checkpointMb;

  @Option(names = "--repeat", defaultValue = "5", description = "Measured repetitions (after 2 warm-ups); medians reported.")
  int repeat;

  @Option(names = "--work-dir", description = "Where to put generated files (default: a temporary directory).")
  Path workDir;

  @picocli.CommandLine.Mixin
  ConformerBench.Options conformer = new ConformerBench.Options();

  @picocli.CommandLine.Mixin
  LstmBench.Options lstm = new LstmBench.Options();

  @picocli.CommandLine.Mixin
  ModelBench.Options model = new ModelBench.Options();

  @picocli.CommandLine.Mixin
  CnnBench.Options cnn = new CnnBench.Options();

  @Override
  public Integer call() throws IOException {
    if (!synthetic && !conformer.enabled && !lstm.enabled && !model.enabled() && !cnn.enabled) {
      System.err.println("error: choose a benchmark: --synthetic, --conformer, --lstm, --cnn, --graph/--fixture");
      return 2;
    }
    Parsing.range("--repeat", repeat, 1, 100_000);
    Parsing.range("--layers", layers, 1, 1_000_000);
    Parsing.range("--checkpoint-mb", checkpointMb, 1, 1_000_000);
    Parsing.range("--threads", model.threads, 0, 1024);
    Parsing.range("--blocks", conformer.blocks, 1, 1000);
    for (int b : conformer.batches) Parsing.range("--batch", b, 1, 4096);
    for (int f : conformer.frames) Parsing.range("--frames", f, 1, 1_000_000);
    Parsing.range("--lstm-units", lstm.units, 1, 1 << 16);
    Parsing.range("--lstm-layers", lstm.layers, 1, 1000);
    Parsing.range("--lstm-time", lstm.time, 1, 1_000_000);
    Parsing.range("--lstm-batch", lstm.batch, 1, 4096);
    Parsing.range("--sequences", model.sequences, 0, 1_000_000);
    Parsing.range("--cnn-batch", cnn.batch, 1, 4096);
    Parsing.range("--seq-length", model.length, 0, 1_000_000);
    if (conformer.noTf && model.enabled()) {
      throw new IllegalArgumentException("--no-tf applies to --conformer only; the --graph/--fixture table is measured against TensorFlow");
    }
    Path dir = workDir != null ? Files.createDirectories(workDir) : Files.createTempDirectory("returnn-onnx-bench");
    try {
      if (conformer.enabled) ConformerBench.run(conformer, dir, repeat);
      if (lstm.enabled) LstmBench.run(lstm, dir, repeat);
      if (model.enabled()) ModelBench.run(model, dir, repeat);
      if (cnn.enabled) CnnBench.run(cnn, dir, repeat);
      if (!synthetic) return 0;
      conversionSpeed(dir);
      checkpointReading(dir);
    } finally {
      if (workDir == null) deleteTree(dir);
    }
    return 0;
  }

  private void conversionSpeed(Path dir) throws IOException {
    SyntheticModels.Model m = SyntheticModels.linearStack(layers, 32);
    Path graph = dir.resolve("synthetic.pb");
    Files.write(graph, m.graph().toByteArray());
    Path ckpt = dir.resolve("synthetic-ckpt/model");
    Files.createDirectories(ckpt.getParent());
    SyntheticModels.writeCheckpoint(ckpt, m.weights());
    Path out = dir.resolve("synthetic.onnx");
    ConvertOptions o = ConvertOptions.of(graph, ckpt, List.of(m.output()));
    long[] ms = new long[repeat];
    Converter.Result last = null;
    for (int i = -2; i < repeat; i++) {
      long t0 = System.nanoTime();
      last = Converter.convert(o);
      last.write(out);
      if (i >= 0) ms[i] = (System.nanoTime() - t0) / 1_000_000;
    }
    System.out.printf("conversion: %d TF nodes (%d layers) -> %d ONNX nodes, median %d ms over %d runs (all: %s)%n",
        m.graph().getNodeCount(), layers, last.graph().nodes().size(), median(ms), repeat, Arrays.toString(ms));
  }

  private void checkpointReading(Path dir) throws IOException {
    Map<String, Tensor> t = new LinkedHashMap<>();
    int tensorMb = 10;
    int count = Math.max(1, checkpointMb / tensorMb);
    int floats = tensorMb * (1 << 20) / 4;
    for (int i = 0; i < count; i++) {
      final int seed = i;
      t.put(String.format("layer%03d/W", i), Tensor.lazy(DType.FLOAT, new long[] {floats}, () -> {
        ByteBuffer b = Tensor.alloc(floats * 4L);
        for (int k = 0; k < floats; k++) b.putFloat(k * 4, (k * 31 + seed) % 1000 * 0.001f);
        return b;
      }));
    }
    Path prefix = dir.resolve("big/model");
    Files.createDirectories(prefix.getParent());
    CheckpointWriter.write(prefix, t);
    t.clear();
    Path data = prefix.resolveSibling("model.data-00000-of-00001");
    long bytes = Files.size(data);
    Path copy = dir.resolve("copy.bin");
    long[] copyMs = new long[repeat];
    long[] readMs = new long[repeat];
    for (int i = -2; i < repeat; i++) {
      long t0 = System.nanoTime();
      Files.copy(data, copy, StandardCopyOption.REPLACE_EXISTING);
      long t1 = System.nanoTime();
      double checksum = 0;
      try (CheckpointReader r = CheckpointReader.open(prefix)) {
        for (CheckpointReader.Entry e : r.entries()) checksum += r.tensorChecked(e.name()).data().getFloat(0);
      }
      long t2 = System.nanoTime();
      if (checksum < 0) System.out.print("");
      if (i >= 0) {
        copyMs[i] = (t1 - t0) / 1_000_000;
        readMs[i] = (t2 - t1) / 1_000_000;
      }
      Files.deleteIfExists(copy);
    }
    long c = median(copyMs), r = median(readMs);
    System.out.printf("checkpoint: %,d bytes in %d tensors; read all (CRC32C checked) median %d ms, plain file copy median %d ms, ratio %.2fx (target <= 2x)%n",
        bytes, count, r, c, c == 0 ? 0.0 : (double) r / c);
  }

  static long median(long[] v) {
    long[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  static void deleteTree(Path dir) throws IOException {
    List<Path> all = new ArrayList<>();
    try (var w = Files.walk(dir)) {
      w.forEach(all::add);
    }
    for (int i = all.size() - 1; i >= 0; i--) Files.deleteIfExists(all.get(i));
  }
}
