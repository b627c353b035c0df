package returnn.onnx.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import returnn.onnx.bench.CnnBench;
import returnn.onnx.bench.ConformerBench;
import returnn.onnx.bench.LstmBench;
import returnn.onnx.bench.ModelBench;
import returnn.onnx.bench.SyntheticBench;

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

  /** How the int8 rows of the --graph/--fixture table are quantized. */
  @picocli.CommandLine.Mixin
  QuantizeFlags quantize = new QuantizeFlags();

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
      if (model.enabled()) {
        try (Progress p = Progress.start("bench", 0)) {
          ModelBench.run(model, quantize.options(), dir, repeat, p::update);
        }
      }
      if (cnn.enabled) CnnBench.run(cnn, dir, repeat);
      if (!synthetic) return 0;
      SyntheticBench.conversionSpeed(dir, layers, repeat);
      SyntheticBench.checkpointReading(dir, checkpointMb, repeat);
    } finally {
      if (workDir == null) deleteTree(dir);
    }
    return 0;
  }

  static void deleteTree(Path dir) throws IOException {
    List<Path> all = new ArrayList<>();
    try (var w = Files.walk(dir)) {
      w.forEach(all::add);
    }
    for (int i = all.size() - 1; i >= 0; i--) Files.deleteIfExists(all.get(i));
  }
}
