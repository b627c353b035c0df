package returnn.onnx.api;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import returnn.onnx.ConversionReport;
import returnn.onnx.quantize.QuantizationReport;

/**
 * What a conversion did, as immutable data: the same facts the {@code convert} command prints.
 *
 * @param inputs the model's inputs, each {@code name: dtype shape}
 * @param outputs the model's outputs, each {@code name: dtype shape}
 * @param tfOps TF op type → count, over the nodes the outputs need
 * @param onnxOps ONNX op type → count in the model (before quantization)
 * @param handlersUsed TF op type → how many nodes its handler converted
 * @param rulesFired rewrite rule → how often it fired
 * @param fusions one line per fusion (what was fused into which ONNX op)
 * @param warnings what the user should act on, e.g. an LSTM kernel left as an exact but slower Loop
 * @param notes choices made for the user, e.g. the output taken when none was named
 * @param declinedFusions why each fusion candidate was declined ({@code --explain-fusions})
 * @param internalErrors exceptions shape inference or constant folding stepped over (bugs; the model is still exact)
 * @param opset the ai.onnx opset of the model
 * @param readMillis milliseconds spent reading the graph and checkpoint
 * @param convertMillis milliseconds spent converting and fusing
 * @param quantization what quantization did, or empty when the model was not quantized
 * @param text the report as the {@code convert} command prints it, as of before writing (so without the write time and
 *     the model size) and without the declined fusion candidates
 */
public record Report(
    List<String> inputs, List<String> outputs, Map<String, Integer> tfOps, Map<String, Integer> onnxOps,
    Map<String, Integer> handlersUsed, Map<String, Integer> rulesFired, List<String> fusions, List<String> warnings,
    List<String> notes, List<String> declinedFusions, List<String> internalErrors, int opset, long readMillis,
    long convertMillis, Optional<QuantizationReport> quantization, String text) {

  /**
   * The report; every list and map is copied, so the record cannot be changed and shares nothing with the converter.
   *
   * @param inputs see the record's inputs
   * @param outputs see the record's outputs
   * @param tfOps see the record's tfOps
   * @param onnxOps see the record's onnxOps
   * @param handlersUsed see the record's handlersUsed
   * @param rulesFired see the record's rulesFired
   * @param fusions see the record's fusions
   * @param warnings see the record's warnings
   * @param notes see the record's notes
   * @param declinedFusions see the record's declinedFusions
   * @param internalErrors see the record's internalErrors
   * @param opset see the record's opset
   * @param readMillis see the record's readMillis
   * @param convertMillis see the record's convertMillis
   * @param quantization see the record's quantization
   * @param text see the record's text
   */
  public Report {
    inputs = List.copyOf(inputs);
    outputs = List.copyOf(outputs);
    tfOps = sorted(tfOps);
    onnxOps = sorted(onnxOps);
    handlersUsed = sorted(handlersUsed);
    rulesFired = sorted(rulesFired);
    fusions = List.copyOf(fusions);
    warnings = List.copyOf(warnings);
    notes = List.copyOf(notes);
    declinedFusions = List.copyOf(declinedFusions);
    internalErrors = List.copyOf(internalErrors);
    quantization = quantization == null ? Optional.empty() : quantization;
  }

  static Report of(ConversionReport r, QuantizationReport q) {
    return new Report(r.inputs, r.outputs, r.tfOps, r.onnxOps, r.handlersUsed, r.rulesFired, r.fusions, r.warnings, r.notes,
        r.ruleNotes, r.internalErrors, r.opset, r.millisRead, r.millisConvert, Optional.ofNullable(q),
        r.format() + (q == null ? "" : q.format()));
  }

  private static Map<String, Integer> sorted(Map<String, Integer> m) {
    return Collections.unmodifiableMap(new TreeMap<>(m));
  }
}
