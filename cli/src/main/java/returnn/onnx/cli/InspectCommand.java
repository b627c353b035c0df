package returnn.onnx.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import returnn.onnx.convert.HandlerRegistry;
import returnn.onnx.ir.Shape;
import returnn.onnx.tf.GraphOutputs;
import returnn.onnx.tf.GraphReader;
import returnn.onnx.tf.TfModel;
import returnn.onnx.tf.TfTensors;
import returnn.onnx.tf.checkpoint.CheckpointReader;
import org.tensorflow.proto.NodeDef;

@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = "Show a graph's placeholders, candidate outputs, op histogram and unsupported ops, or a checkpoint's variables.")
final class InspectCommand implements Callable<Integer> {
  /** Ops the importer turns into graph inputs and constants; no handler needed. */
  static final Set<String> IMPORTED = Set.of("Placeholder", "Const", "VarHandleOp", "VariableV2", "Variable");
  /** TF1 control flow, converted by TF-level rules (while loops to Loop, conditionals to If), not by handlers. */
  static final Set<String> CONTROL_FLOW = Set.of("Enter", "Exit", "Merge", "Switch", "LoopCond", "NextIteration",
      "TensorArrayV3", "TensorArrayReadV3", "TensorArrayWriteV3", "TensorArrayGatherV3", "TensorArrayScatterV3",
      "TensorArraySizeV3", "TensorArraySplitV3", "TensorArrayConcatV3", "TensorArrayCloseV3");
  /** Control flow v2 and function calls, converted by {@code rewrite.functional} (their bodies are not inspected). */
  static final Set<String> FUNCTIONAL = Set.of("While", "StatelessWhile", "If", "StatelessIf", "PartitionedCall",
      "StatefulPartitionedCall", "TensorListSetItem");

  @Parameters(paramLabel = "FILE", description = "A graph file, SavedModel directory, or checkpoint prefix.")
  Path file;

  @Override
  public Integer call() {
    String n = file.getFileName().toString();
    boolean graph = Files.isDirectory(file) && Files.exists(file.resolve("saved_model.pb"))
        || n.endsWith(".pb") || n.endsWith(".pbtxt") || n.endsWith(".meta") || n.endsWith(".metatxt");
    if (graph) {
      inspectGraph(GraphReader.read(file));
    } else {
      inspectCheckpoint();
    }
    return 0;
  }

  private void inspectGraph(TfModel m) {
    System.out.println("graph: " + m.source() + " (" + m.format() + ", " + m.graph().getNodeCount() + " nodes)");
    System.out.println("placeholders:");
    Map<String, Integer> hist = new TreeMap<>();
    for (NodeDef d : m.graph().getNodeList()) {
      hist.merge(d.getOp(), 1, Integer::sum);
      if (d.getOp().equals("Placeholder") || d.getOp().equals("PlaceholderWithDefault")) {
        String dt = d.containsAttr("dtype") ? TfTensors.dtype(d.getAttrOrThrow("dtype").getTypeValue(), d.getName()).lower() : "?";
        Shape s = TfTensors.placeholderShape(d, m.graph().getVersions().getProducer());
        System.out.println("  " + d.getName() + "  " + dt + (s.hasRank() ? "" : " ") + s + (d.getOp().equals("Placeholder") ? "" : "  (with default)"));
      }
    }
    System.out.println("candidate outputs:");
    m.graph().getNodeList().stream().map(NodeDef::getName).filter(x -> x.endsWith("/output_batch_major")).sorted()
        .forEach(x -> System.out.println("  " + x));
    m.signatureOutputs().forEach((k, v) -> System.out.println("  " + k + " (signature output, tensor " + v + ")"));
    if (!returnnOrSignature(m)) GraphOutputs.sinks(m.graph()).forEach(x -> System.out.println("  " + x + " (sink)"));
    System.out.println("op histogram (nodes the candidate outputs need / all nodes):");
    Set<String> needed = neededByCandidates(m);
    Map<String, Integer> neededHist = new TreeMap<>();
    for (NodeDef d : m.graph().getNodeList()) if (needed.contains(d.getName())) neededHist.merge(d.getOp(), 1, Integer::sum);
    HandlerRegistry reg = HandlerRegistry.standard();
    TreeMap<String, Integer> unsupported = new TreeMap<>();
    hist.forEach((op, c) -> {
      int n = neededHist.getOrDefault(op, 0);
      boolean ok = IMPORTED.contains(op) || CONTROL_FLOW.contains(op) || FUNCTIONAL.contains(op) || reg.find(op) != null;
      if (!ok && n > 0) unsupported.put(op, n);
      System.out.printf("  %-32s %6d / %-6d%s%n", op, n, c, ok ? "" : n > 0 ? "  (unsupported)" : "  (unsupported, pruned)");
    });
    if (!m.strippedOps().getOpList().isEmpty()) {
      List<String> custom = m.strippedOps().getOpList().stream().map(o -> o.getName())
          .filter(o -> o.startsWith("NativeLstm") || o.startsWith("Lstm") || o.contains("Returnn")).toList();
      if (!custom.isEmpty()) System.out.println("RETURNN custom ops (need RETURNN's compiled op library to run in TF): " + custom);
    }
    System.out.println(unsupported.isEmpty() ? "unsupported ops: none" : "unsupported ops: " + unsupported);
  }

  /** Whether the graph names its outputs: RETURNN's {@code ../output_batch_major} or a SavedModel signature. */
  static boolean returnnOrSignature(TfModel m) {
    return !m.signatureOutputs().isEmpty()
        || m.graph().getNodeList().stream().anyMatch(d -> d.getName().endsWith("/output_batch_major"));
  }

  /** Nodes reachable through data edges from the candidate outputs (what a conversion would keep). */
  static Set<String> neededByCandidates(TfModel m) {
    Map<String, NodeDef> byName = new java.util.HashMap<>();
    for (NodeDef d : m.graph().getNodeList()) byName.put(d.getName(), d);
    java.util.Deque<String> todo = new java.util.ArrayDeque<>();
    byName.keySet().stream().filter(x -> x.endsWith("/output_batch_major")).forEach(todo::add);
    m.signatureOutputs().values().forEach(v -> todo.add(returnn.onnx.tf.TensorRef.parse(v).node()));
    if (!returnnOrSignature(m)) todo.addAll(GraphOutputs.sinks(m.graph()));
    Set<String> seen = new java.util.HashSet<>();
    while (!todo.isEmpty()) {
      String n = todo.poll();
      NodeDef d = byName.get(n);
      if (d == null || !seen.add(n)) continue;
      for (String in : d.getInputList()) if (!in.startsWith("^")) todo.add(returnn.onnx.tf.TensorRef.parse(in).node());
    }
    return seen;
  }

  /**
   * Lists the checkpoint's tensors. Names, dtypes and shapes are the index's, so a prefix whose data shards are
   * missing (only the index copied) is listed too, saying which shards are missing; otherwise the shards are opened
   * and checked against the index as convert does.
   */
  private void inspectCheckpoint() {
    CheckpointReader.Index index = CheckpointReader.readIndex(file);
    List<Path> missing = index.dataFiles().stream().filter(p -> !Files.exists(p)).toList();
    if (!missing.isEmpty()) {
      list(index.prefix(), index.entries());
      System.out.println("note: data " + (missing.size() == 1 ? "shard" : "shards") + " missing: "
          + String.join(", ", missing.stream().map(Path::toString).toList())
          + "; names, dtypes and shapes are from the index (convert needs the data)");
      return;
    }
    try (CheckpointReader r = CheckpointReader.open(file)) {
      list(r.prefix(), r.entries());
    }
  }

  private static void list(Path prefix, List<CheckpointReader.Entry> entries) {
    System.out.println("checkpoint: " + prefix + " (" + entries.size() + " tensors)");
    long total = 0;
    for (CheckpointReader.Entry e : entries) {
      System.out.printf("  %-50s %-8s %s%n", e.name(), e.dtype().lower(), Arrays.toString(e.shape()));
      total += e.size();
    }
    System.out.printf("total %,d bytes%n", total);
  }
}
