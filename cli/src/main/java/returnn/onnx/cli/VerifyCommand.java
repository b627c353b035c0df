package returnn.onnx.cli;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import returnn.onnx.verify.Verifier;

@Command(name = "verify", mixinStandardHelpOptions = true,
    description = "Run TensorFlow and ONNX Runtime on the same inputs and compare every output; exits 1 over tolerance.")
final class VerifyCommand implements Callable<Integer> {
  @Option(names = "--graph", required = true, description = "The original graph file or SavedModel directory.")
  Path graph;

  @Option(names = "--checkpoint", description = "V2 checkpoint prefix.")
  Path checkpoint;

  @Option(names = "--onnx", required = true, description = "The converted model.")
  Path onnx;

  @Option(names = "--outputs", description = "Comma-separated TF output names (default: all ONNX outputs).")
  String outputs;

  @Option(names = "--inputs", description = "Shapes of the generated inputs, as convert's --inputs: NAME:d0xd1x...,... "
      + "(-1 = batch for the first dim, time for the others). Default: TF's placeholder shape, completed by the model's.")
  String inputs;

  @Option(names = "--tolerance", defaultValue = "1e-5", description = "Max absolute error for float outputs (default ${DEFAULT-VALUE}).")
  double tolerance;

  @Option(names = "--seed", defaultValue = "42")
  long seed;

  @Option(names = "--batch", defaultValue = "3", description = "Batch size of generated inputs.")
  int batch;

  @Option(names = "--time", defaultValue = "11", description = "Padded time length of generated inputs.")
  int time;

  @Option(names = "--allow-non-finite", description = "Let float outputs that are NaN or infinite everywhere pass (when TF agrees).")
  boolean allowNonFinite;

  @Override
  public Integer call() {
    Parsing.range("--batch", batch, 1, 1024);
    Parsing.range("--time", time, 1, 10_000);
    // Generated inputs and every output are [batch, time, ...] (attention [batch, heads, time, time]): bound the
    // product before anything is allocated. Checking needs a few sequences, not a corpus.
    if ((long) batch * time > 100_000) {
      throw new IllegalArgumentException("--batch " + batch + " x --time " + time + " is over 100,000 frames; verify on fewer");
    }
    if (!(tolerance >= 0) || Double.isInfinite(tolerance)) throw new IllegalArgumentException("--tolerance must be a finite number >= 0, got " + tolerance);
    Verifier.Report r = Verifier.verify(new Verifier.Options(graph, checkpoint, onnx, Parsing.list(outputs), Map.of(),
        seed, batch, time, tolerance, Parsing.shapes(inputs))).allowingNonFinite(allowNonFinite);
    System.out.print(r.format());
    return r.ok() ? 0 : 1;
  }
}
