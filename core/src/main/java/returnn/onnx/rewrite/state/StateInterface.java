package returnn.onnx.rewrite.state;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ConversionException;
import returnn.onnx.ConversionReport;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.Pipeline;

/**
 * {@code convert --state}: every recurrent state becomes a model input (the state before the call) and a model output
 * (the state after it), since ONNX Runtime keeps nothing between calls. Runs on the finished ONNX graph, after the
 * outputs got their names:
 * <ol>
 *   <li>states the graph keeps inside (fused LSTMs from zeros, causal attention without a previous state) are exposed
 *       by {@link LstmStateRule} and {@link AttentionStateRule} under RETURNN's names;
 *   <li>every input named {@code <scope>/initial_state_placeholder_<key>} is paired with the output
 *       {@code <scope>/last_state_<key>} (RETURNN's own placeholders included). By default a state input is a plain
 *       graph input (every ONNX Runtime API lists it; RASR needs that) and the state of a fresh sequence is zeros
 *       (no frames on a growing time axis). With {@code defaults} it gets an initializer default, the fresh state,
 *       so callers may leave it out, but ONNX Runtime then hides it from its input lists;
 *   <li>outputs are ordered: network outputs first, then the final states in mapping order, which is sorted by
 *       input name (the order of the {@code STATE_} metadata entries in the written model).
 * </ol>
 */
public final class StateInterface {
  private StateInterface() {}

  /** Exposes and pairs the states of {@code g}; returns the mapping for the model metadata. */
  public static StateMapping expose(Graph g, int opset, ConversionReport report, boolean defaults) {
    Set<String> automatic = new LinkedHashSet<>();
    AttentionStateRule attention = new AttentionStateRule(automatic, defaults);
    new Pipeline(List.of(), List.of(new LstmStateRule(automatic, defaults), attention)).runOnnxLevel(g, opset, report);
    Map<String, Value> outputs = new HashMap<>();
    for (Value v : g.outputs()) outputs.put(v.name(), v);
    Value batchSource = batchSource(g);
    List<StateMapping.Entry> entries = new ArrayList<>();
    for (Value in : new ArrayList<>(g.inputs())) {
      String outName = StateNames.outputFor(in.name());
      if (outName == null) continue;
      Value out = outputs.get(outName);
      if (out == null) {
        throw new ConversionException("state input '" + in.name() + "' has no final state output '" + outName + "'");
      }
      Shape inShape = StatePorts.inputShape(in.shape());
      if (inShape != null) in.setShape(inShape);
      if (defaults && g.inputDefault(in) == null && inShape != null && batchSource != null) {
        OnnxBuilder ob = new OnnxBuilder(g, opset, in.name() + "/default", null);
        StatePorts.withDefault(g, ob, in, StatePorts.zeros(in.dtype(), inShape), batchSource, 0);
      }
      Shape outShape = StatePorts.outputShape(out.shape().hasRank() ? out.shape() : in.shape());
      if (outShape != null) out.setShape(outShape);
      entries.add(new StateMapping.Entry(in.name(), outName, in.dtype(), in.shape(), out.shape(), g.inputDefault(in) != null,
          automatic.contains(in.name()) ? StateMapping.Origin.AUTOMATIC : StateMapping.Origin.PLACEHOLDER));
      report.fusions.add("state: " + in.name() + " → " + outName + (g.inputDefault(in) != null ? " (default: fresh state)" : ""));
    }
    if (entries.isEmpty()) {
      List<String> declined = report.ruleNotes.stream().filter(n -> n.startsWith("StateRules.")).toList();
      throw new ConversionException("--state found no recurrent state to expose (fused forward LSTMs, causal "
          + "self-attention and RETURNN state placeholders have one; with --no-fuse LSTMs stay Loops)"
          + (declined.isEmpty() ? "" : ": " + String.join("; ", declined)));
    }
    // ONNX metadata is written sorted by key, so sorting by input name makes the STATE_ entries list the states in
    // the order their outputs follow the network outputs.
    entries.sort(java.util.Comparator.comparing(StateMapping.Entry::input));
    orderOutputs(g, entries);
    Value prefix = attention.prefixLengthInput();
    if (prefix != null) report.fusions.add("state: " + prefix.name() + " int32 [batch]: real frames of each sequence's left-padded past keys/values");
    return new StateMapping(entries, prefix == null ? null : prefix.name());
  }

  /** A non-state input with a batch dim in front, to take the batch size of defaults from. */
  private static Value batchSource(Graph g) {
    for (Value v : g.inputs()) {
      if (StateNames.isStateInput(v.name()) || v.name().equals(AttentionStateRule.PREFIX_LENGTH) || !v.shape().hasRank() || v.shape().rank() == 0) continue;
      if (v.shape().dim(0).equals(Dim.sym(StatePorts.BATCH))) return v;
    }
    return null;
  }

  private static void orderOutputs(Graph g, List<StateMapping.Entry> entries) {
    Map<String, Value> byName = new HashMap<>();
    for (Value v : g.outputs()) byName.put(v.name(), v);
    Set<String> states = new LinkedHashSet<>();
    for (StateMapping.Entry e : entries) states.add(e.output());
    List<Value> order = new ArrayList<>();
    for (Value v : g.outputs()) if (!states.contains(v.name())) order.add(v);
    for (String s : states) order.add(byName.get(s));
    while (!g.outputs().isEmpty()) g.removeOutput(g.outputs().size() - 1);
    for (Value v : order) g.addOutput(v);
  }
}
