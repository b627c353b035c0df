package returnn.onnx.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ConversionException;
import returnn.onnx.ConvertOptions;
import returnn.onnx.SafePaths;
import returnn.onnx.ir.Value;
import returnn.onnx.stepbystep.StepByStep;

/** {@code convert --step-by-step}: RETURNN's step-by-step graph as RASR's stateful-onnx triple in a folder. */
final class StepByStepConvert {
  static final String RASR_CONFIG = "rasr-label-scorer.config";

  private StepByStepConvert() {}

  static int run(ConvertCommand c) {
    if (c.state || c.outputs != null || c.quantize != null) {
      throw new IllegalArgumentException("--step-by-step takes neither --state, --outputs nor --quantize");
    }
    Path info = c.stepByStepInfo != null ? c.stepByStepInfo : StepByStep.defaultInfo(c.graph);
    if (!Files.isRegularFile(info)) {
      throw new IllegalArgumentException(info + ": no step-by-step info file (compile_tf_graph.py --rec_step_by_step_output_file; "
          + "or give --step-by-step-info)");
    }
    List<Path> ins = new ArrayList<>(SafePaths.checkpointFiles(c.checkpoint));
    ins.add(c.graph);
    ins.add(info);
    if (Files.isSymbolicLink(c.output)) {
      throw new IllegalArgumentException(c.output + ": is a symbolic link; give the real folder");
    }
    if (Files.exists(c.output) && !Files.isDirectory(c.output)) {
      throw new IllegalArgumentException(c.output + ": with --step-by-step, --output is a folder");
    }
    for (String f : List.of(StepByStep.INITIALIZER + ".onnx", StepByStep.UPDATER + ".onnx", StepByStep.SCORER + ".onnx", RASR_CONFIG)) {
      SafePaths.checkOutput(c.output.resolve(f), ins);
      SafePaths.checkOutput(c.output.resolve(f + ".data"), ins);
    }
    ConvertOptions o = ConvertOptions.of(c.graph, c.checkpoint, List.of()).withOpset(c.opset).withInputShapes(Parsing.shapes(c.inputs))
        .withFuse(!c.noFuse);
    StepByStep.Models m = StepByStep.convert(o, info, c.negateScores);
    m.writeTo(c.output);
    String cfg = rasrConfig(m, c.negateScores);
    try {
      Path tmp = Files.createTempFile(c.output, RASR_CONFIG, ".tmp");
      Files.writeString(tmp, cfg);
      Files.move(tmp, c.output.resolve(RASR_CONFIG), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw ConversionException.atFile(c.output.resolve(RASR_CONFIG), "cannot write: " + e.getMessage());
    }
    System.out.println("== " + StepByStep.INITIALIZER);
    System.out.print(m.initializer().report().format(c.explainFusions));
    System.out.println("== " + StepByStep.UPDATER);
    System.out.print(m.updater().report().format(c.explainFusions));
    System.out.println("== " + StepByStep.SCORER);
    System.out.print(m.scorer().report().format(c.explainFusions));
    System.out.println("states: " + String.join(", ", m.states()));
    System.out.println("wrote " + c.output.resolve(StepByStep.INITIALIZER + ".onnx") + ", " + StepByStep.UPDATER + ".onnx, "
        + StepByStep.SCORER + ".onnx, " + RASR_CONFIG);
    return 0;
  }

  /** The label-scorer part of a RASR config for the three models (paths relative to the folder). */
  static String rasrConfig(StepByStep.Models m, boolean negated) {
    StringBuilder b = new StringBuilder();
    b.append("# RASR stateful-onnx label scorer, written by returnn-onnx convert --step-by-step.\n");
    b.append("# Put these keys under your label scorer's selection (e.g. [*.label-scorer]); paths are relative to this folder.\n");
    b.append("# The initializer runs RETURNN's encoder itself: feed it the features (encoder-states) and their lengths.\n");
    b.append("# Hidden states (ONNX name = state name in each model's metadata): ").append(String.join(", ", m.states())).append('\n');
    b.append(negated ? "# The scorer gives -log p (costs), as RASR's searches add them.\n"
        : "# The scorer gives RETURNN's log p; RASR's searches add costs (-log p, cf. negate-output of its feature scorer):\n"
            + "# convert with --negate-scores for RASR.\n");
    b.append("type = stateful-onnx\n");
    List<Value> in = m.initializer().graph().inputs();
    b.append("state-initializer-model.session.file = ").append(StepByStep.INITIALIZER).append(".onnx\n");
    for (Value v : in) {
      String role = v.dtype() == returnn.onnx.ir.DType.FLOAT ? "encoder-states" : "encoder-states-size";
      b.append("state-initializer-model.io-map.").append(role).append(" = ").append(v.name()).append('\n');
    }
    b.append("state-updater-model.session.file = ").append(StepByStep.UPDATER).append(".onnx\n");
    b.append("state-updater-model.io-map.token = ").append(StepByStep.TOKEN).append('\n');
    b.append("scorer-model.session.file = ").append(StepByStep.SCORER).append(".onnx\n");
    b.append("scorer-model.io-map.scores = ").append(StepByStep.SCORES).append('\n');
    return b.toString();
  }
}
