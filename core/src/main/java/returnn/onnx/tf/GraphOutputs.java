package returnn.onnx.tf;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ConversionException;
import returnn.onnx.ConvertOptions;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Which outputs a conversion (or SavedModel export) takes when none are named: a SavedModel's signature outputs, else
 * RETURNN's {@code output/output_batch_major}, else the graph's only sink. Shared by {@code convert},
 * {@code savedmodel} and {@code inspect}.
 */
public final class GraphOutputs {
  /**
   * Ops that are never model outputs, though nothing reads them: no data output, savers and initializers, summaries,
   * and the sources the importer turns into inputs and constants.
   */
  private static final Set<String> NOT_OUTPUTS = Set.of("NoOp", "Assert", "Print", "PrintV2", "SaveV2", "Save",
      "SaveSlices", "RestoreV2", "Restore", "RestoreSlice", "MergeV2Checkpoints", "ShardedFilename", "StringJoin",
      "Assign", "AssignAdd", "AssignSub", "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
      "VarIsInitializedOp", "IsVariableInitialized", "ScalarSummary", "HistogramSummary", "ImageSummary",
      "AudioSummary", "AudioSummaryV2", "TensorSummary", "TensorSummaryV2", "MergeSummary", "Placeholder",
      "PlaceholderWithDefault", "Const", "VariableV2", "Variable", "VarHandleOp", "ReadVariableOp", "ControlTrigger");

  /** Sinks named in the error at most (inspect lists every one). */
  private static final int MAX_LISTED = 20;

  /** The chosen outputs, and a sentence for the report when they were not named by the graph's conventions. */
  public record Choice(List<String> outputs, String note) {}

  private GraphOutputs() {}

  /**
   * The sinks of the graph: nodes whose first output no node reads through a data edge, that compute something from
   * a placeholder (so constant branches, variable reads, savers and initializers are left out), in graph order.
   * TF1 control-flow internals ({@code Exit}, {@code NextIteration}, ...) are read by their loop and never sinks.
   */
  public static List<String> sinks(GraphDef g) {
    Map<String, NodeDef> byName = new LinkedHashMap<>();
    for (NodeDef n : g.getNodeList()) byName.put(n.getName(), n);
    Set<String> read = new HashSet<>();
    Map<String, List<String>> consumers = new LinkedHashMap<>();
    for (NodeDef n : g.getNodeList()) {
      for (String in : n.getInputList()) {
        if (in.startsWith("^")) continue;
        String src = TensorRef.parse(in).node();
        read.add(src);
        consumers.computeIfAbsent(src, k -> new ArrayList<>()).add(n.getName());
      }
    }
    Set<String> fromPlaceholder = new HashSet<>();
    Deque<String> todo = new ArrayDeque<>();
    for (NodeDef n : g.getNodeList()) if (n.getOp().equals("Placeholder")) todo.add(n.getName());
    while (!todo.isEmpty()) {
      String n = todo.poll();
      if (!fromPlaceholder.add(n)) continue;
      todo.addAll(consumers.getOrDefault(n, List.of()));
    }
    List<String> sinks = new ArrayList<>();
    for (NodeDef n : g.getNodeList()) {
      if (read.contains(n.getName()) || NOT_OUTPUTS.contains(n.getOp()) || !fromPlaceholder.contains(n.getName())) continue;
      if (n.getName().startsWith("save/") || n.getName().contains("/save/")) continue;
      sinks.add(n.getName());
    }
    return sinks;
  }

  /** The default outputs, or one error that names the candidates. */
  public static Choice defaults(TfModel model) {
    if (!model.signatureOutputs().isEmpty()) return new Choice(new ArrayList<>(model.signatureOutputs().keySet()), null);
    GraphDef g = model.graph();
    boolean has = g.getNodeList().stream().anyMatch(n -> n.getName().equals(ConvertOptions.DEFAULT_OUTPUT));
    if (has) return new Choice(List.of(ConvertOptions.DEFAULT_OUTPUT), null);
    List<String> batchMajor = g.getNodeList().stream().map(NodeDef::getName)
        .filter(n -> n.endsWith("/output_batch_major")).sorted().toList();
    List<String> sinks = sinks(g);
    if (batchMajor.isEmpty() && sinks.size() == 1) {
      return new Choice(List.of(sinks.get(0)), "no '" + ConvertOptions.DEFAULT_OUTPUT + "' in the graph; its only sink '"
          + sinks.get(0) + "' is the output");
    }
    StringBuilder msg = new StringBuilder(model.source() + ": no '" + ConvertOptions.DEFAULT_OUTPUT
        + "' in the graph; name the outputs with --outputs");
    if (!batchMajor.isEmpty()) msg.append(" (candidates: ").append(String.join(", ", batchMajor)).append(")");
    else if (sinks.isEmpty()) msg.append(" (the graph has no sink computed from a placeholder)");
    else {
      int shown = Math.min(sinks.size(), MAX_LISTED);
      msg.append(" (the graph has ").append(sinks.size()).append(" sinks: ").append(String.join(", ", sinks.subList(0, shown)))
          .append(shown < sinks.size() ? ", ... " + (sinks.size() - shown) + " more; `inspect` lists them all" : "").append(")");
    }
    throw new ConversionException(msg.toString());
  }
}
