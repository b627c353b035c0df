package returnn.onnx.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import returnn.onnx.Converter;
import returnn.onnx.api.Conversion;
import returnn.onnx.api.ReturnnOnnx;

@Command(name = "convert", mixinStandardHelpOptions = true,
    description = "Convert a RETURNN graph (.pb, .pbtxt, .meta, .metatxt or SavedModel dir) and its checkpoint to ONNX.")
final class ConvertCommand implements Callable<Integer> {
  @Option(names = "--graph", required = true, description = "Graph file or SavedModel directory.")
  Path graph;

  @Option(names = "--checkpoint", description = "V2 checkpoint prefix, e.g. net-model/network.030.")
  Path checkpoint;

  @Option(names = "--outputs", description = "Comma-separated TF tensor names (default: output/output_batch_major).")
  String outputs;

  @Option(names = "--output", required = true, description = "The ONNX model to write.")
  Path output;

  @Option(names = "--opset", defaultValue = "17", description = "ai.onnx opset, 13 to 23 (default ${DEFAULT-VALUE}).")
  int opset;

  @Option(names = "--inputs", description = "Fix or override input shapes: NAME:d0xd1x...,... (-1 = dynamic). NAME may be "
      + "any tensor (name or name:N): the graph is cut there and the tensor becomes a model input.")
  String inputs;

  @Option(names = "--no-fuse", description = "Plain conversion without fusion rules (for comparison and debugging).")
  boolean noFuse;

  @Option(names = "--explain-fusions", description = "Print why each fusion candidate was declined.")
  boolean explainFusions;

  @Option(names = "--quantize", paramLabel = "int8", description = "Quantize the weights (dynamic int8, as the quantize command does).")
  String quantize;

  @picocli.CommandLine.Mixin
  QuantizeFlags quantizeFlags = new QuantizeFlags();

  @Option(names = "--state", description = "Every recurrent state as a plain model input (a fresh state is zeros) and "
      + "output, paired in the metadata (STATE_<input> = <output>, and returnn_onnx.state), for streaming.")
  boolean state;

  @Option(names = "--state-defaults", description = "With --state: give each state input its fresh state as an "
      + "initializer default (ONNX Runtime then leaves those inputs out of its input lists; RASR cannot feed them).")
  boolean stateDefaults;

  @Option(names = "--ort-version", defaultValue = "1.15", description = "The oldest ONNX Runtime the model must run in "
      + "(default ${DEFAULT-VALUE}, the oldest RASR links). Before 1.16, causal attention is masked through a bias input.")
  String ortVersion;

  @Option(names = "--rasr-config", paramLabel = "FILE", description = "Also write a RASR config fragment for the model "
      + "(session, io-map, state manager, output transformation); printed in the report too.")
  Path rasrConfig;

  @Option(names = "--log-softmax-output", description = "A Softmax that computes an output directly becomes LogSoftmax.")
  boolean logSoftmaxOutput;

  @Option(names = "--step-by-step", description = "The graph is RETURNN's --rec_step_by_step graph: write RASR's "
      + "stateful-onnx models state-initializer.onnx, state-updater.onnx, scorer.onnx and rasr-label-scorer.config "
      + "into the folder --output.")
  boolean stepByStep;

  @Option(names = "--step-by-step-info", description = "The graph's --rec_step_by_step_output_file JSON (default: "
      + "the graph's name with .json).")
  Path stepByStepInfo;

  @Option(names = "--step-by-step-form", paramLabel = "FORM", description = "With --step-by-step: 'stateful' (default: "
      + "the states after a decoder step are carried, scores included, so the decoder cell runs once per label, in the "
      + "updater) or 'stateful-split' (the scorer and the updater each run the cell).")
  String stepByStepForm;

  @Option(names = "--negate-scores", description = "With --step-by-step: the scorer gives -log p (costs) instead of "
      + "RETURNN's log p.")
  boolean negateScores;

  @Override
  public Integer call() {
    if (stepByStep) return StepByStepConvert.run(this);
    if (stepByStepInfo != null || negateScores || stepByStepForm != null) {
      throw new IllegalArgumentException("--step-by-step-info, --step-by-step-form and --negate-scores need --step-by-step");
    }
    java.util.List<Path> ins = new java.util.ArrayList<>(returnn.onnx.SafePaths.checkpointFiles(checkpoint));
    ins.add(graph);
    returnn.onnx.SafePaths.checkOutput(output, ins);
    returnn.onnx.SafePaths.checkOutput(output.resolveSibling(output.getFileName() + ".data"), ins);
    if (stateDefaults && !state) throw new IllegalArgumentException("--state-defaults needs --state");
    if (rasrConfig != null) returnn.onnx.SafePaths.checkOutput(rasrConfig, ins);
    Conversion c = ReturnnOnnx.convert(graph).checkpoint(checkpoint).outputs(Parsing.list(outputs)).opset(opset).fuse(!noFuse)
        .state(state).stateDefaults(stateDefaults).logSoftmaxOutput(logSoftmaxOutput).ortVersion(ortVersion)
        .quantize(quantizeFlags.forConvert(quantize));
    Parsing.shapes(inputs).forEach(c::inputShape);
    Converter.Result r = Converter.convert(c.options());
    returnn.onnx.quantize.QuantizationReport q = r.quantization();
    String fragment = null;
    if (rasrConfig != null) {
      returnn.onnx.tf.TfModel model = returnn.onnx.tf.GraphReader.read(graph);
      RasrConfig.prepare(r, name -> model.graph().getNodeList().stream()
          .anyMatch(n -> n.getName().equals(name) && n.getOp().equals("Placeholder")));
      fragment = RasrConfig.fragment(r, output.toString());
    }
    r.write(output);
    if (fragment != null) {
      try {
        java.nio.file.Files.writeString(rasrConfig, fragment);
      } catch (java.io.IOException e) {
        throw new IllegalArgumentException("--rasr-config " + rasrConfig + ": cannot write: " + e.getMessage(), e);
      }
    }
    System.out.print(r.report().format(explainFusions));
    if (fragment != null) System.out.print("rasr config (" + rasrConfig + "):\n" + fragment);
    if (q != null) System.out.print(q.format());
    System.out.println("wrote " + output);
    return 0;
  }
}
