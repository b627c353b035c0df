/**
 * The public Java API of returnn-onnx: convert a RETURNN model (TensorFlow graph + checkpoint) to ONNX.
 *
 * <p>Start at {@link returnn.onnx.api.ReturnnOnnx#convert(java.nio.file.Path)}, set what the {@code convert} command's
 * flags set, and {@link returnn.onnx.api.Conversion#run() run}: the {@link returnn.onnx.api.ConvertedModel} gives the
 * model's bytes or writes it, its {@link returnn.onnx.api.Report} and its metadata, all immutable.
 *
 * <p>What else is API (stable names, documented):
 * <ul>
 *   <li>this package;</li>
 *   <li>{@code returnn.onnx.ConversionException}, the one exception conversion throws for bad input;</li>
 *   <li>{@code returnn.onnx.quantize}: {@code QuantizeOptions} (made by {@link returnn.onnx.api.Int8}),
 *       {@code QuantizationReport};</li>
 *   <li>for user-supplied op handlers ({@link returnn.onnx.api.Conversion#handler}): {@code returnn.onnx.convert}'s
 *       {@code OpHandler} and {@code ConversionContext}, and what a handler touches through them
 *       ({@code returnn.onnx.build.OnnxBuilder}, {@code returnn.onnx.ir.Value}, {@code Tensor}, {@code DType},
 *       {@code Shape}): usable, but they follow the converter's internals and may change between versions;</li>
 *   <li>in the {@code returnn-onnx-runtime} artifact, {@code returnn.onnx.runtime}: {@code OnnxSession} (run a model),
 *       {@code StreamingSession} (chunk by chunk, states carried), {@code LmScorer} (perplexity),
 *       {@code StepByStepDecoder} (RASR's stateful-onnx triple).</li>
 * </ul>
 * Every other package ({@code returnn.onnx.tf}, {@code rewrite}, {@code onnx}, {@code stepbystep}, and the other
 * classes of {@code returnn.onnx} and {@code returnn.onnx.convert}) is internal: public only because the project's
 * other modules (runtime, verify, cli) use it.
 *
 * <p>Why no JPMS {@code module-info} (yet): the project's other modules are plain classpath jars that use core's
 * internals ({@code runtime} reads ONNX files and state mappings through {@code returnn.onnx.io} and
 * {@code rewrite.state}; {@code verify} and {@code cli} use the readers, the IR and the rewrites). A named core
 * module would have to export those packages to them by module name, which needs module names for every module and
 * module-path test runs; and the handler API exposes {@code ir} and {@code ops} types, so those packages would be
 * exported anyway. The internal packages get their final names first (issue 17's renames, to be done in one step);
 * a {@code module-info} exporting this package, {@code quantize} and the handler SPI comes after that. Until then
 * the jars name their modules in the manifest ({@code Automatic-Module-Name}: {@code returnn.onnx.core},
 * {@code returnn.onnx.runtime}), so a modular caller can already write {@code requires returnn.onnx.core;}.
 */
package returnn.onnx.api;
