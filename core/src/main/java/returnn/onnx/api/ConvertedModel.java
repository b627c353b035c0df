package returnn.onnx.api;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.Converter;
import returnn.onnx.ir.Value;
import returnn.onnx.io.OnnxWriter;

/**
 * A converted ONNX model, not yet written: its bytes, its report and its metadata. Immutable: the graph inside is not
 * reachable, so {@link #bytes()} and {@link #write(Path)} give the same model every time, byte for byte what
 * {@code convert} writes for the same settings.
 */
public final class ConvertedModel {
  private final Converter.Result result;
  private final Report report;
  private final Map<String, String> metadata;
  private final List<String> inputNames;
  private final List<String> outputNames;

  ConvertedModel(Converter.Result result) {
    this.result = result;
    this.report = Report.of(result.report(), result.quantization());
    this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(result.metadata()));
    this.inputNames = result.graph().inputs().stream().map(Value::name).toList();
    this.outputNames = result.graph().outputs().stream().map(Value::name).toList();
  }

  /**
   * The model as an ONNX {@code ModelProto}, weights inline (protobuf limits this to models under 2 GB; use
   * {@link #write(Path)} for larger ones).
   *
   * @return a new array each call
   */
  public byte[] bytes() {
    return OnnxWriter.toModel(result.graph(), result.opset(), metadata).toByteArray();
  }

  /**
   * Writes the model to {@code file}, atomically (a temporary file moved into place). Weights too large for one
   * protobuf go to an external data file next to it, {@code FILE.<hash>.data}.
   *
   * @param file the model file to write, e.g. {@code model.onnx}
   * @return {@code file}
   * @throws returnn.onnx.ConversionException if it cannot be written
   */
  public Path write(Path file) {
    OnnxWriter.write(result.graph(), result.opset(), metadata, file);
    return file;
  }

  /**
   * What the conversion did.
   *
   * @return the report
   */
  public Report report() {
    return report;
  }

  /**
   * The model's metadata ({@code metadata_props}): provenance ({@code returnn_onnx.source}, hashes, options), the
   * state mapping of a model converted with state, {@code returnn_onnx.quantization} of a quantized one.
   *
   * @return an unmodifiable map in the model's order
   */
  public Map<String, String> metadata() {
    return metadata;
  }

  /**
   * The ai.onnx opset of the model.
   *
   * @return the opset
   */
  public int opset() {
    return result.opset();
  }

  /**
   * The model's input names: TF placeholder names with {@code :0} dropped.
   *
   * @return an unmodifiable list
   */
  public List<String> inputNames() {
    return inputNames;
  }

  /**
   * The model's output names: TF tensor names with {@code :0} dropped ({@code :N} kept for N &gt; 0).
   *
   * @return an unmodifiable list
   */
  public List<String> outputNames() {
    return outputNames;
  }
}
