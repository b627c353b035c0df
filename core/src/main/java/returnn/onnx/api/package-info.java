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
 * Every other package of core ({@code returnn.onnx.tf}, {@code io}, {@code eval}, {@code stepbystep},
 * {@code convert.handlers} and the {@code rewrite} subpackages but {@code rewrite.pattern}) is internal.
 *
 * <p>core is a JPMS module, {@code returnn.onnx.core} (its {@code module-info.java}): it exports this package,
 * {@code returnn.onnx}, {@code quantize} and the handler/rule SPI packages ({@code convert}, {@code ir},
 * {@code build}, {@code rewrite}, {@code rewrite.pattern}) to everyone, and each internal package only to the
 * project's modules that use it, by the names their jars carry ({@code Automatic-Module-Name}:
 * {@code returnn.onnx.runtime}, {@code .fixtures}, {@code .verify}, {@code .bench}, {@code .cli}). A caller on the
 * module path ({@code requires returnn.onnx.core;}) therefore cannot compile against an internal package
 * (ModuleExportsTest). The project's own modules and all tests run on the classpath, where module-info has no
 * effect: the other modules are not named modules themselves (their dependencies — TF Java, ONNX Runtime, Tribuo —
 * would all have to resolve on the module path), and the tests are white-box tests of internal packages.
 * {@code returnn.onnx} still holds the older entry points ({@code Converter}, {@code ConvertOptions}) beside
 * {@code ConversionException}; they are exported with it.
 */
package returnn.onnx.api;
