package returnn.onnx.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.verify.Verifier;

@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "The main job on the bundled example model: convert, verify against TensorFlow, print the report.")
final class DemoCommand implements Callable<Integer> {
  @Option(names = "--example", description = "Example directory (default: examples/returnn-transformer-block).")
  Path example;

  @Option(names = "--output", defaultValue = "out/demo/model.onnx", description = "Where to write the model (default ${DEFAULT-VALUE}).")
  Path output;

  @Override
  public Integer call() {
    Path dir = example != null ? example : Examples.home().resolve("examples/returnn-transformer-block");
    Path graph = dir.resolve("graph.meta");
    Path ckpt = dir.resolve("net-model/network.030");
    if (!Files.exists(graph)) throw new IllegalArgumentException(graph + ": example graph not found");
    System.out.println("== convert " + graph + " (checkpoint " + ckpt + ")");
    Converter.Result r = Converter.convert(ConvertOptions.of(graph, ckpt, List.of()));
    r.write(output);
    System.out.print(r.report().format());
    System.out.println("wrote " + output);
    System.out.println();
    System.out.println("== verify against TensorFlow (padded batch, different lengths)");
    Verifier.Report v = Verifier.verify(Verifier.Options.of(graph, ckpt, output));
    System.out.print(v.format());
    return v.ok() ? 0 : 1;
  }
}
