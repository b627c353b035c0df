package returnn.onnx.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ir.Tensor;
import returnn.onnx.rewrite.state.StateMapping;

/**
 * Runs a model converted with {@code --state} chunk by chunk, carrying its recurrent states from one call to the next
 * as the model's {@code returnn_onnx.state} metadata pairs them (read through ONNX Runtime's {@code getMetadata()}).
 * The states stay ONNX Runtime tensors between calls (no copy); {@link #reset} starts fresh sequences, for which each
 * state input takes the default stored in the model. Not thread-safe: one session is one stream.
 *
 * <pre>{@code
 * try (StreamingSession s = StreamingSession.open(Path.of("lm.onnx"), OnnxSession.Options.defaults())) {
 *   for (Map<String, Tensor> chunk : chunks) {
 *     Map<String, Tensor> out = s.step(chunk); // data and its lengths; states are carried
 *   }
 *   s.reset(); // next sequence
 * }
 * }</pre>
 */
public final class StreamingSession implements AutoCloseable {
  /** ONNX Runtime's session config key for external data of a model loaded from bytes (onnxruntime_session_options_config_keys.h). */
  private static final String EXTERNAL_DATA_FOLDER = "session.model_external_initializers_file_folder_path";

  private final OrtEnvironment env;
  private final OrtSession.SessionOptions options;
  private final OrtSession session;
  private final StateMapping mapping;
  /** Values of inputs whose initializer had to come out of the model (see {@link OverridableInitializers}). */
  private final Map<String, Tensor> defaults;
  private final List<String> networkOutputs;
  private final Set<String> inputNames;
  private EmptyInputGuard guard;
  private String source = "model";
  /** The previous call's results; its state outputs are the next call's state inputs. Null: fresh states. */
  private OrtSession.Result carried;
  private boolean closed;

  private StreamingSession(OrtEnvironment env, OrtSession.SessionOptions options, OrtSession session,
      Map<String, Tensor> defaults, String source) throws OrtException {
    this.env = env;
    this.options = options;
    this.session = session;
    this.defaults = defaults;
    String json = session.getMetadata().getCustomMetadataValue(StateMapping.METADATA_KEY).orElse(null);
    if (json == null) {
      throw new IllegalArgumentException(source + ": no " + StateMapping.METADATA_KEY + " metadata; convert the model with --state");
    }
    this.mapping = StateMapping.fromJson(json);
    this.inputNames = new LinkedHashSet<>(session.getInputNames());
    Set<String> outs = new LinkedHashSet<>(session.getOutputNames());
    for (StateMapping.Entry e : mapping.entries()) {
      if (!inputNames.contains(e.input())) throw new IllegalArgumentException(source + ": state input " + e.input() + " is no model input");
      if (!outs.contains(e.output())) throw new IllegalArgumentException(source + ": state output " + e.output() + " is no model output");
      if (e.hasDefault() && !defaults.containsKey(e.input())) {
        throw new IllegalArgumentException(source + ": state input " + e.input() + " has no initializer for its default");
      }
    }
    List<String> net = new ArrayList<>(outs);
    net.removeAll(mapping.outputs());
    this.networkOutputs = List.copyOf(net);
  }

  /** Opens a model whose metadata holds a state mapping (see {@code convert --state}). */
  public static StreamingSession open(Path model, OnnxSession.Options o) {
    // external data only from the model's folder; the ops for the empty-input guard
    java.util.Set<String> ops = returnn.onnx.onnx.ModelPrecheck.check(model);
    OverridableInitializers.Split split;
    try {
      split = OverridableInitializers.split(Files.readAllBytes(model), model.toString());
    } catch (IOException e) {
      throw new IllegalArgumentException(model + ": cannot read: " + e.getMessage(), e);
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession.SessionOptions so = null;
    OrtSession s = null;
    try {
      so = OnnxSession.sessionOptions(o);
      Path dir = model.toAbsolutePath().getParent();
      if (dir != null) so.addConfigEntry(EXTERNAL_DATA_FOLDER, dir.toString());
      s = env.createSession(split.model(), so);
      StreamingSession ss = new StreamingSession(env, so, s, split.defaults(), model.toString());
      ss.guard = EmptyInputGuard.of(ops);
      ss.source = model.toString();
      return ss;
    } catch (OrtException e) {
      close(s, so);
      throw new IllegalStateException(model + ": ONNX Runtime cannot load the model: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      close(s, so);
      throw e;
    }
  }

  public StateMapping mapping() {
    return mapping;
  }

  /** The inputs a caller feeds: everything but the states and inputs with a default. */
  public List<String> dataInputs() {
    List<String> l = new ArrayList<>(inputNames);
    l.removeAll(mapping.inputs());
    l.removeAll(defaults.keySet());
    return l;
  }

  /** The network outputs {@link #step} returns, in model order (states excluded). */
  public List<String> networkOutputs() {
    return networkOutputs;
  }

  /**
   * Runs one chunk: {@code feeds} for the data inputs, the carried states (or, at the start of a sequence, the
   * defaults) for the state inputs; a state fed here replaces the carried one. Returns the network outputs; the final
   * states are kept for the next call.
   */
  public Map<String, Tensor> step(Map<String, Tensor> feeds) {
    check();
    for (String k : feeds.keySet()) {
      if (!inputNames.contains(k)) throw new IllegalArgumentException("Unknown input name " + k + ", expected one of " + inputNames);
    }
    if (guard != null) guard.check(feeds, mapping.inputs(), source);
    List<OnnxTensor> owned = new ArrayList<>();
    Map<String, OnnxTensor> in = new LinkedHashMap<>();
    OrtSession.Result result = null;
    try {
      for (Map.Entry<String, Tensor> e : feeds.entrySet()) in.put(e.getKey(), own(owned, e.getValue()));
      for (StateMapping.Entry e : mapping.entries()) {
        if (in.containsKey(e.input())) continue;
        if (carried != null) {
          in.put(e.input(), (OnnxTensor) carried.get(e.output()).orElseThrow());
        } else if (!e.hasDefault()) {
          throw new IllegalArgumentException("state input " + e.input() + " has no default; feed it in the first call");
        }
      }
      for (Map.Entry<String, Tensor> d : defaults.entrySet()) {
        if (!in.containsKey(d.getKey())) in.put(d.getKey(), own(owned, d.getValue()));
      }
      result = session.run(in, new LinkedHashSet<>(session.getOutputNames()));
      Map<String, Tensor> out = new LinkedHashMap<>();
      for (String name : networkOutputs) out.put(name, OnnxSession.fromOrt((OnnxTensor) result.get(name).orElseThrow()));
      OrtSession.Result previous = carried;
      carried = result;
      result = null;
      if (previous != null) previous.close();
      return out;
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime failed: " + e.getMessage(), e);
    } finally {
      if (result != null) result.close();
      for (OnnxTensor t : owned) t.close();
    }
  }

  private OnnxTensor own(List<OnnxTensor> owned, Tensor t) throws OrtException {
    OnnxTensor o = OnnxSession.toOrt(env, t);
    owned.add(o);
    return o;
  }

  /** The final states of the last call by state output name (copies); empty before the first call and after reset. */
  public Map<String, Tensor> states() {
    check();
    Map<String, Tensor> m = new LinkedHashMap<>();
    if (carried == null) return m;
    for (String name : mapping.outputs()) m.put(name, OnnxSession.fromOrt((OnnxTensor) carried.get(name).orElseThrow()));
    return m;
  }

  /** Forgets the carried states: the next call starts fresh sequences. */
  public void reset() {
    check();
    if (carried != null) carried.close();
    carried = null;
  }

  private void check() {
    if (closed) throw new IllegalStateException("streaming session is closed");
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    if (carried != null) carried.close();
    carried = null;
    close(session, options);
  }

  /** Closes the session, then its options (ONNX Runtime: options must outlive the sessions made with them). */
  private static void close(OrtSession s, OrtSession.SessionOptions so) {
    try {
      if (s != null) s.close();
    } catch (OrtException e) {
      throw new IllegalStateException(e);
    } finally {
      if (so != null) so.close();
    }
  }
}
