package returnn.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.convert.HandlerRegistry;
import returnn.onnx.convert.Legalizer;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.io.OnnxWriter;
import returnn.onnx.io.Version;
import returnn.onnx.quantize.QuantizationReport;
import returnn.onnx.quantize.Quantizer;
import returnn.onnx.rewrite.Pipeline;
import returnn.onnx.rewrite.state.StateInterface;
import returnn.onnx.rewrite.state.StateMapping;
import returnn.onnx.rewrite.state.StateOutputs;
import returnn.onnx.tf.CheckpointVariables;
import returnn.onnx.tf.GraphOutputs;
import returnn.onnx.tf.GraphReader;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.tf.TfImporter;
import returnn.onnx.tf.TfModel;
import returnn.onnx.tf.checkpoint.CheckpointReader;

/**
 * The conversion pipeline: read the graph and checkpoint, import (pruned to the outputs), TF-level rules,
 * legalize every TF op into ONNX ops, ONNX-level rules and cleanups, then write.
 *
 * <pre>{@code
 * Converter.Result r = Converter.convert(ConvertOptions.of(Path.of("graph.meta"), Path.of("net-model/network.030"), List.of()));
 * r.write(Path.of("model.onnx"));
 * System.out.print(r.report().format());
 * }</pre>
 *
 * <p>Internal: the public entry point is {@code returnn.onnx.api.ReturnnOnnx}, which wraps this class.
 */
public final class Converter {
  private Converter() {}

  /**
   * A converted model, not yet written; {@code quantization} is what {@link ConvertOptions#quantize()} did, or null.
   * (Mutable: the CLI and the step-by-step converter adjust it before writing. The public API's immutable view is
   * {@code returnn.onnx.api.ConvertedModel}.)
   */
  public record Result(Graph graph, ConversionReport report, Map<String, String> metadata, int opset,
      QuantizationReport quantization) {
    public void write(Path out) {
      long t0 = System.nanoTime();
      OnnxWriter.write(graph, opset, metadata, out);
      report.millisWrite = (System.nanoTime() - t0) / 1_000_000;
      try {
        report.outputBytes = Files.size(out);
      } catch (IOException e) {
        report.outputBytes = -1;
      }
    }

    public byte[] toBytes() {
      return OnnxWriter.toModel(graph, opset, metadata).toByteArray();
    }
  }

  public static Result convert(ConvertOptions o) {
    return convert(o, null);
  }

  /**
   * Converts {@code model} (already read, possibly rewritten, e.g. by {@code StepByStep}) instead of reading
   * {@code o.graph()}; {@code o.graph()} still names the source in the metadata. {@code model} null: read it.
   */
  public static Result convert(ConvertOptions o, TfModel model) {
    List<String> internalErrors = InternalErrors.start();
    try {
      Result r = convertCollecting(o, model);
      r.report().internalErrors.addAll(internalErrors);
      return r;
    } finally {
      InternalErrors.stop();
    }
  }

  private static Result convertCollecting(ConvertOptions o, TfModel given) {
    ConversionReport report = new ConversionReport();
    report.opset = o.opset();
    long t0 = System.nanoTime();
    TfModel model = given != null ? given : GraphReader.read(o.graph());
    Path ckptPath = o.checkpoint() != null ? o.checkpoint() : model.variablesPrefix();
    GraphOutputs.Choice chosen = o.outputs().isEmpty() ? GraphOutputs.defaults(model) : null;
    List<String> requested = chosen != null ? chosen.outputs() : o.outputs();
    if (chosen != null && chosen.note() != null) report.notes.add(chosen.note());
    List<String> outputs = o.state() ? StateOutputs.withLastStates(model.graph(), requested, model.signatureOutputs()) : requested;
    try (CheckpointReader ckpt = ckptPath == null ? null : CheckpointReader.open(ckptPath)) {
      TfImporter.Imported imported = TfImporter.importGraph(model,
          ckpt == null ? null : returnn.onnx.tf.ObjectGraphVariables.of(model, new CheckpointVariables(ckpt)),
          outputs, o.inputShapes());
      report.millisRead = (System.nanoTime() - t0) / 1_000_000;
      long t1 = System.nanoTime();
      Graph g = imported.graph();
      report.tfOps.putAll(imported.tfHistogram());
      for (String c : imported.unusedCuts()) {
        report.warnings.add("--inputs names '" + c + "', which the outputs do not need; it cuts nothing and is no model input");
      }
      Pipeline pipeline = Pipeline.standard(o.fuse(), o.tfRules(), o.onnxRules());
      pipeline.runTfLevel(g, o.opset(), report);
      HandlerRegistry handlers = HandlerRegistry.standard();
      o.handlers().forEach(handlers::override);
      Legalizer legalizer = new Legalizer(handlers, o.opset());
      legalizer.run(g, model.source().toString());
      report.handlersUsed.putAll(legalizer.handlerUse());
      pipeline.runOnnxLevel(g, o.opset(), report);
      nameOutputs(g, outputs, model);
      if (o.logSoftmaxOutput()) returnn.onnx.rewrite.output.LogSoftmaxOutputs.apply(g, new ArrayList<>(g.outputs()), report);
      StateMapping states = o.state() ? StateInterface.expose(g, o.opset(), report, o.stateDefaults()) : null;
      if (o.ortMinor() < 17 && o.opset() > 19) {
        // ONNX Runtime 1.15 and 1.16 implement ai.onnx up to opset 19 (1.17 added 20).
        report.warnings.add("opset " + o.opset() + " needs ONNX Runtime 1.17 or later; the model will not load in 1." + o.ortMinor()
            + " (--ort-version; RASR's oldest image links 1.15.1)");
      }
      if (o.ortMinor() < 16) {
        int causal = returnn.onnx.rewrite.attention.CausalBias.lowerAll(g, o.opset());
        if (causal > 0) {
          report.fusions.add("ONNX Runtime 1." + o.ortMinor() + ": " + causal + " causal MultiHeadAttention with the mask as a bias "
              + "input (1.15 has no 'unidirectional'; --ort-version 1.16 or later keeps it)");
        }
      }
      g.removeDeadNodes();
      report.onnxOps.putAll(g.opHistogram());
      for (Value v : g.inputs()) report.inputs.add(v.toString());
      for (Value v : g.outputs()) report.outputs.add(v.toString());
      report.millisConvert = (System.nanoTime() - t1) / 1_000_000;
      Map<String, String> metadata = provenance(o, model, ckptPath, outputs);
      if (states != null) {
        metadata.put(StateMapping.METADATA_KEY, states.toJson());
        metadata.putAll(states.rasrMetadata());
      }
      // After the report's ONNX histogram, which shows the fp32 model (the quantization report lists what changed).
      QuantizationReport quantized = null;
      if (o.quantize() != null) {
        quantized = Quantizer.quantize(g, o.quantize(), o.opset());
        metadata.put(Quantizer.METADATA_KEY, o.quantize().describe());
      }
      return new Result(g, report, metadata, o.opset(), quantized);
    }
  }

  /**
   * Graph outputs carry exactly the TF tensor names (":0" dropped). Where the value is a graph input, a constant, or
   * already another output, an Identity gives the output its own name.
   */
  static void nameOutputs(Graph g, List<String> outputs, TfModel model) {
    for (int i = 0; i < g.outputs().size(); i++) {
      String key = model.signatureOutputs().getOrDefault(outputs.get(i), outputs.get(i));
      String name = TensorRef.parse(key).onnxName();
      Value v = g.outputs().get(i);
      boolean shared = g.outputs().subList(0, i).contains(v) || g.inputs().contains(v) || v.producer() == null;
      if (shared || v.producer().graph() != g) {
        Node id = g.addNode(Node.ONNX, "Identity", name + "/Identity", name, List.of(v), 1);
        id.output(0).setDtype(v.dtype());
        id.output(0).setShape(v.shape());
        v = id.output(0);
        g.setOutput(i, v);
      }
      v.setName(name);
    }
  }

  static Map<String, String> provenance(ConvertOptions o, TfModel model, Path ckpt, List<String> outputs) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("returnn_onnx.version", Version.VERSION);
    Path src = model.format() == TfModel.Format.SAVED_MODEL ? model.source().resolve("saved_model.pb") : model.source();
    m.put("returnn_onnx.source", o.graph().getFileName().toString());
    m.put("returnn_onnx.source_sha256", sha256(src));
    if (ckpt != null) {
      // The index holds every tensor's CRC32C, so its hash identifies the weights without reading them all.
      Path index = ckpt.resolveSibling(ckpt.getFileName() + ".index");
      m.put("returnn_onnx.checkpoint", ckpt.getFileName().toString());
      if (Files.exists(index)) m.put("returnn_onnx.checkpoint_index_sha256", sha256(index));
    }
    StringBuilder opts = new StringBuilder("opset=" + o.opset() + " fuse=" + o.fuse() + (o.state() ? " state=true" : "")
        + (o.stateDefaults() ? " state_defaults=true" : "") + (o.logSoftmaxOutput() ? " log_softmax_output=true" : "")
        + " ort_version=1." + o.ortMinor()
        + " outputs=" + String.join(",", outputs)
        + (o.handlers().isEmpty() ? "" : " handlers=" + String.join(",", o.handlers().keySet()))
        + ruleNames(" tf_rules=", o.tfRules()) + ruleNames(" onnx_rules=", o.onnxRules()));
    new java.util.TreeMap<>(o.inputShapes()).forEach((k, v) -> opts.append(" input=").append(k).append(java.util.Arrays.toString(v)));
    m.put("returnn_onnx.options", opts.toString());
    return m;
  }

  private static String ruleNames(String key, List<returnn.onnx.rewrite.Rule> rules) {
    return rules.isEmpty() ? "" : key + String.join(",", rules.stream().map(returnn.onnx.rewrite.Rule::name).toList());
  }

  static String sha256(Path p) {
    try (InputStream in = Files.newInputStream(p)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) md.update(buf, 0, n);
      return HexFormat.of().formatHex(md.digest());
    } catch (IOException | java.security.NoSuchAlgorithmException e) {
      throw ConversionException.atFile(p, "cannot hash: " + e.getMessage());
    }
  }
}
