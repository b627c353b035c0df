package returnn.onnx.api;

import java.nio.file.Path;
import java.util.Set;
import returnn.onnx.convert.HandlerRegistry;

/**
 * The entry point of the Java API: convert a RETURNN graph and its checkpoint to ONNX.
 *
 * <pre>{@code
 * ConvertedModel m = ReturnnOnnx.convert(Path.of("graph.meta"))
 *     .checkpoint(Path.of("net-model/network.030"))
 *     .outputs("output/output_batch_major")
 *     .quantize(Int8.perTensor())
 *     .opset(17)
 *     .run();
 * m.write(Path.of("model.onnx"));
 * System.out.print(m.report().text());
 * }</pre>
 *
 * <p>Conversion errors (a file that cannot be read, an op that cannot be converted) are thrown as
 * {@link returnn.onnx.ConversionException}, whose message names the file or the node and its op. Running converted
 * models (plain, streaming with carried states, LM scoring, step-by-step decoding) is the job of the sibling package
 * {@code returnn.onnx.runtime} in the {@code returnn-onnx-runtime} artifact.
 */
public final class ReturnnOnnx {
  private ReturnnOnnx() {}

  /**
   * Starts a conversion of {@code graph}.
   *
   * @param graph the graph as RETURNN's {@code compile_tf_graph.py} writes it ({@code .meta}, {@code .metatxt},
   *     {@code .pb}, {@code .pbtxt}) or a SavedModel directory
   * @return a builder; nothing is read until {@link Conversion#run()}
   */
  public static Conversion convert(Path graph) {
    return new Conversion(graph);
  }

  /**
   * The TF op types the built-in handlers convert (besides the ops the importer folds away, such as
   * {@code Placeholder}, {@code Const} and variables). Other op types need a handler:
   * {@link Conversion#handler(String, returnn.onnx.convert.OpHandler)}.
   *
   * @return the op type names, sorted
   */
  public static Set<String> supportedOps() {
    return HandlerRegistry.standard().supportedOps();
  }
}
