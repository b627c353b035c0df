package returnn.onnx.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import returnn.onnx.SafePaths;
import returnn.onnx.ir.Tensor;
import returnn.onnx.rewrite.state.StateMapping;
import returnn.onnx.runtime.Npy;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.runtime.StreamingSession;
import returnn.onnx.tf.TensorRef;

@Command(name = "run", mixinStandardHelpOptions = true,
    description = {"Run an ONNX model on .npy inputs and write every output as .npy.",
        "Output NAME goes to DIR/NAME.npy ('/' in names makes subdirectories: DIR/output/output_batch_major.npy).",
        "State inputs of a model converted with --state may be given like any input; left out, they take their default."})
final class RunCommand implements Callable<Integer> {
  @Option(names = "--onnx", required = true, description = "The model.")
  Path onnx;

  @Option(names = "--input", required = true, paramLabel = "NAME=FILE.npy",
      description = "An input (ONNX name; a TF name with :0 works too) and its .npy file; repeat for each input.")
  List<String> inputs;

  @Option(names = "--output-dir", required = true, description = "Directory for the outputs' .npy files.")
  Path outputDir;

  @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime intra-op threads (0: its choice).")
  int threads;

  @Override
  public Integer call() {
    Map<String, Tensor> feeds = readInputs(inputs);
    OnnxSession.Options opts = new OnnxSession.Options(threads, true);
    Map<String, Tensor> outputs = new LinkedHashMap<>();
    boolean stateful;
    try (OnnxSession s = OnnxSession.open(onnx, opts)) {
      stateful = s.metadata().containsKey(StateMapping.METADATA_KEY);
      if (!stateful) {
        requireInputs(s.inputNames(), s.inputNames(), feeds.keySet());
        outputs.putAll(s.run(feeds));
      }
    }
    if (stateful) {
      // ONNX Runtime's Java API cannot feed inputs that have a default; the streaming session can.
      try (StreamingSession s = StreamingSession.open(onnx, opts)) {
        List<String> known = new ArrayList<>(s.dataInputs());
        known.addAll(s.mapping().inputs());
        requireInputs(known, s.dataInputs(), feeds.keySet());
        outputs.putAll(s.step(feeds));
        outputs.putAll(s.states());
      }
    }
    // Output names come from the model (a TF node name passes through convert unchanged): every one must resolve
    // inside --output-dir, and none may replace an input, before anything is written.
    List<Path> ins = new ArrayList<>(List.of(onnx, onnx.resolveSibling(onnx.getFileName() + ".data")));
    for (String spec : inputs) ins.add(Path.of(spec.substring(spec.lastIndexOf('=') + 1).trim()));
    Map<String, Path> files = new LinkedHashMap<>();
    for (String name : outputs.keySet()) {
      Path file = SafePaths.inside(outputDir, name + ".npy", onnx + ": output '" + name + "'");
      SafePaths.checkOutput(file, ins);
      files.put(name, file);
    }
    for (Map.Entry<String, Tensor> e : outputs.entrySet()) {
      Path file = files.get(e.getKey());
      Npy.write(file, e.getValue());
      Tensor t = e.getValue();
      System.out.println(e.getKey() + " " + t.dtype().lower() + java.util.Arrays.toString(t.shape()) + " -> " + file);
    }
    return 0;
  }

  /** {@code NAME=FILE} pairs read into tensors keyed by ONNX name. */
  static Map<String, Tensor> readInputs(List<String> specs) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    for (String spec : specs) {
      int eq = spec.lastIndexOf('=');
      if (eq <= 0 || eq == spec.length() - 1) throw new IllegalArgumentException("--input '" + spec + "' is not NAME=FILE.npy");
      String name = TensorRef.parse(spec.substring(0, eq).trim()).onnxName();
      if (feeds.put(name, Npy.read(Path.of(spec.substring(eq + 1).trim()))) != null) {
        throw new IllegalArgumentException("--input " + name + " is given twice");
      }
    }
    return feeds;
  }

  private static void requireInputs(List<String> known, List<String> required, java.util.Set<String> given) {
    for (String g : given) {
      if (!known.contains(g)) throw new IllegalArgumentException("the model has no input '" + g + "' (inputs: " + known + ")");
    }
    List<String> missing = required.stream().filter(r -> !given.contains(r)).toList();
    if (!missing.isEmpty()) throw new IllegalArgumentException("missing --input for " + missing);
  }
}
