/**
 * The runtime API: run converted models in ONNX Runtime.
 *
 * <ul>
 *   <li>{@link returnn.onnx.runtime.OnnxSession}: any model, from a file or from
 *       {@code returnn.onnx.api.ConvertedModel#bytes()};</li>
 *   <li>{@link returnn.onnx.runtime.StreamingSession}: a model converted with state ({@code convert --state}, or
 *       {@code .state(true)} in the API) chunk by chunk, its recurrent states carried from call to call;</li>
 *   <li>{@link returnn.onnx.runtime.LmScorer} with {@link returnn.onnx.runtime.ReturnnVocabulary}: a language model's
 *       perplexity over sentences;</li>
 *   <li>{@link returnn.onnx.runtime.StepByStepDecoder}: greedy or beam search with RASR's stateful-onnx triple
 *       ({@code convert --step-by-step}).</li>
 * </ul>
 * The other classes of this package are their helpers, public for the project's other modules.
 */
package returnn.onnx.runtime;
