package returnn.onnx.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ConversionException;
import returnn.onnx.ConvertOptions;
import returnn.onnx.SafePaths;
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
    StepByStep.Form form = switch (c.stepByStepForm == null ? "stateful" : c.stepByStepForm) {
      case "stateful" -> StepByStep.Form.STATEFUL;
      case "stateful-split" -> StepByStep.Form.STATEFUL_SPLIT;
      default -> throw new IllegalArgumentException("--step-by-step-form: '" + c.stepByStepForm + "' is neither stateful nor stateful-split");
    };
    StepByStep.Models m = StepByStep.convert(o, info, c.negateScores, form);
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
    return StepByStep.rasrConfig(m, negated);
  }
}
