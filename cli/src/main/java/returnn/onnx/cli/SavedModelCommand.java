package returnn.onnx.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TensorShapeProto;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import returnn.onnx.ir.DType;
import returnn.onnx.tf.savedmodel.SavedModelExporter;

@Command(name = "savedmodel", mixinStandardHelpOptions = true,
    description = "Write a TensorFlow SavedModel (tag 'serve', signature 'serving_default') from a RETURNN graph "
        + "(.meta, .metatxt, .pb, .pbtxt) and its checkpoint, without Python.")
final class SavedModelCommand implements Callable<Integer> {
  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Option(names = "--graph", required = true, description = "Graph file (or SavedModel directory).")
  Path graph;

  @Option(names = "--checkpoint", description = "V2 checkpoint prefix, e.g. net-model/network.030.")
  Path checkpoint;

  @Option(names = "--outputs", description = "Comma-separated TF tensor names (default: output/output_batch_major).")
  String outputs;

  @Option(names = "--output", required = true, description = "The SavedModel directory to create (must not exist or be empty).")
  Path output;

  @Override
  public Integer call() {
    java.util.List<Path> ins = new java.util.ArrayList<>(returnn.onnx.SafePaths.checkpointFiles(checkpoint));
    ins.add(graph);
    for (Path in : ins) {
      if (in.toAbsolutePath().normalize().equals(output.toAbsolutePath().normalize())) {
        throw returnn.onnx.ConversionException.atFile(output, "is one of the command's inputs; refusing to overwrite it");
      }
    }
    SavedModelExporter.Result r = SavedModelExporter.export(
        new SavedModelExporter.Options(graph, checkpoint, Parsing.list(outputs), output));
    System.out.println("SavedModel: tag '" + SavedModelExporter.SERVE_TAG + "', signature '"
        + SavedModelExporter.SERVING_DEFAULT + "' (" + SavedModelExporter.PREDICT_METHOD + ")");
    System.out.println("inputs:");
    print(r.inputs());
    System.out.println("outputs:");
    print(r.outputs());
    if (r.variables().isEmpty()) {
      System.out.println("variables: none");
    } else {
      System.out.println("variables: " + r.variables().size() + " (restored by " + r.saverScope() + "/, "
          + (r.saverKept() ? "the graph's own saver" : "new saver nodes") + ")");
    }
    PrintWriter err = spec.commandLine().getErr();
    for (String w : r.warnings()) err.println("warning: " + w);
    err.flush();
    System.out.println("wrote " + r.dir());
    return 0;
  }

  private static void print(Map<String, TensorInfo> infos) {
    infos.forEach((k, v) -> {
      DType t = DType.fromTfOrNull(v.getDtypeValue());
      System.out.println("  " + k + "  " + (t == null ? v.getDtype().name() : t.lower()) + shape(v.getTensorShape()));
    });
  }

  private static String shape(TensorShapeProto s) {
    if (s.getUnknownRank()) return "[?]";
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < s.getDimCount(); i++) {
      if (i > 0) b.append(',');
      long d = s.getDim(i).getSize();
      b.append(d < 0 ? "?" : Long.toString(d));
    }
    return b.append(']').toString();
  }
}
