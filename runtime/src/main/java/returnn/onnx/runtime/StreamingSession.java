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
 * state input gets zeros (batch from the data fed, no frames on a growing time axis), or the default stored in a model
 * converted with {@code --state-defaults}. Not thread-safe: one session is one stream.
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
  /** Data inputs with a dim named {@code batch}: its index, to size fresh states by. */
  private final Map<String, Integer> batchAxes;
  private final List<String> networkOutputs;
  private final Set<String> inputNames;
  private EmptyInputGuard guard;
  private String source = "model";
  /** The previous call's results; its state outputs are the next call's state inputs. Null: fresh states. */
  private OrtSession.Result carried;
  /** Attention states of {@link #carried} re-aligned to the right (sequences whose last chunk was short). */
  private final Map<String, OnnxTensor> realigned = new LinkedHashMap<>();
  /** Real past frames of each sequence in the carried attention states ({@code prefix-length}), or null. */
  private long[] prefix;
  private boolean closed;

  private StreamingSession(OrtEnvironment env, OrtSession.SessionOptions options, OrtSession session,
      OverridableInitializers.Split split, String source) throws OrtException {
    this.env = env;
    this.options = options;
    this.session = session;
    this.defaults = split.defaults();
    this.batchAxes = split.batchAxes();
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

  /**
   * Opens a model whose metadata holds a state mapping (see {@code convert --state}).
   *
   * @param model the model file
   * @param o session settings
   * @return the session
   */
  public static StreamingSession open(Path model, OnnxSession.Options o) {
    // external data only from the model's folder; the ops for the empty-input guard
    java.util.Set<String> ops = returnn.onnx.io.ModelPrecheck.check(model);
    OverridableInitializers.Split split;
    try {
      split = OverridableInitializers.split(Files.readAllBytes(model), model.toString());
    } catch (IOException e) {
      throw new IllegalArgumentException(model + ": cannot read: " + e.getMessage(), e);
    }
    OrtEnvironment env = OrtNative.environment();
    OrtSession.SessionOptions so = null;
    OrtSession s = null;
    try {
      so = OnnxSession.sessionOptions(o);
      Path dir = model.toAbsolutePath().getParent();
      if (dir != null) so.addConfigEntry(EXTERNAL_DATA_FOLDER, dir.toString());
      s = env.createSession(split.model(), so);
      StreamingSession ss = new StreamingSession(env, so, s, split, model.toString());
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

  /**
   * The model's state mapping: which input carries which output, and each state's fresh value.
   *
   * @return the mapping
   */
  public StateMapping mapping() {
    return mapping;
  }

  /**
   * The inputs a caller feeds: everything but the states and inputs with a default.
   *
   * @return the input names
   */
  public List<String> dataInputs() {
    List<String> l = new ArrayList<>(inputNames);
    l.removeAll(mapping.inputs());
    l.removeAll(defaults.keySet());
    if (mapping.prefixLength() != null) l.remove(mapping.prefixLength());
    return l;
  }

  /**
   * The network outputs {@link #step} returns, in model order (states excluded).
   *
   * @return the output names
   */
  public List<String> networkOutputs() {
    return networkOutputs;
  }

  /**
   * Runs one chunk: {@code feeds} for the data inputs, the carried states (or, at the start of a sequence, zeros or the
   * defaults) for the state inputs; a state fed here replaces the carried one. Returns the network outputs; the final
   * states are kept for the next call. Every sequence takes the whole chunk (see {@link #step(Map, int[])}).
   *
   * @param feeds data input name to tensor
   * @return network output name to tensor
   */
  public Map<String, Tensor> step(Map<String, Tensor> feeds) {
    return step(feeds, null);
  }

  /**
   * Like {@link #step(Map)}, where sequence b's chunk has only {@code chunkLengths[b]} real frames (the rest is right
   * padding; null: all real). LSTM states take the lengths from the model's own lengths input. Attention states
   * (with a {@code prefix-length} input) keep only each sequence's real frames, right-aligned (left-padded) as the
   * model expects, and the session feeds how many are real: any mix of chunk lengths works. A caller that feeds
   * {@code prefix-length} itself aligns the states itself (from then on the session carries them as they come out).
   *
   * @param feeds data input name to tensor
   * @param chunkLengths real frames of each sequence in this chunk, or null
   * @return network output name to tensor
   */
  public Map<String, Tensor> step(Map<String, Tensor> feeds, int[] chunkLengths) {
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
      boolean fresh = carried == null;
      for (StateMapping.Entry e : mapping.entries()) {
        if (in.containsKey(e.input())) continue;
        if (!fresh) {
          OnnxTensor aligned = realigned.get(e.output());
          in.put(e.input(), aligned != null ? aligned : (OnnxTensor) carried.get(e.output()).orElseThrow());
        } else if (!e.hasDefault()) {
          in.put(e.input(), own(owned, zeros(e, batch(feeds))));
        }
      }
      String prefixName = mapping.prefixLength();
      if (prefixName != null && !in.containsKey(prefixName)) {
        long[] fedStates = null;
        // Attention states fed by the caller without prefix-length: all their frames are real.
        for (StateMapping.Entry e : mapping.entries()) {
          int axis = timeAxis(e);
          if (axis < 0 || !feeds.containsKey(e.input())) continue;
          long[] shape = feeds.get(e.input()).shape();
          fedStates = new long[(int) shape[0]];
          java.util.Arrays.fill(fedStates, shape[axis]);
          break;
        }
        if (fedStates != null) {
          prefix = fedStates;
        } else if (fresh) {
          prefix = new long[(int) batch(feeds)];
        } else if (prefix == null) {
          throw new IllegalArgumentException(prefixName + " was fed in an earlier call of this sequence: feed it in every call (or reset)");
        }
        in.put(prefixName, own(owned, Tensor.fromLongs(returnn.onnx.ir.DType.INT32, new long[] {prefix.length}, prefix)));
      } else if (prefixName != null) {
        prefix = null; // the caller aligns the states and counts their real frames itself
      }
      for (Map.Entry<String, Tensor> d : defaults.entrySet()) {
        if (!in.containsKey(d.getKey())) in.put(d.getKey(), own(owned, d.getValue()));
      }
      result = session.run(in, new LinkedHashSet<>(session.getOutputNames()));
      Map<String, Tensor> out = new LinkedHashMap<>();
      for (String name : networkOutputs) out.put(name, OnnxSession.fromOrt((OnnxTensor) result.get(name).orElseThrow()));
      OrtSession.Result previous = carried;
      Map<String, OnnxTensor> previousAligned = new LinkedHashMap<>(realigned);
      realigned.clear();
      carried = result;
      result = null;
      if (prefixName != null && prefix != null) realign(chunkLengths);
      for (OnnxTensor t : previousAligned.values()) t.close();
      if (previous != null) previous.close();
      return out;
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime failed: " + e.getMessage(), e);
    } finally {
      if (result != null) result.close();
      for (OnnxTensor t : owned) t.close();
    }
  }

  /**
   * After a call: each attention state output is [B, ..., P+S, ...] with sequence b's {@code prefix[b]} real past
   * frames right before the S new ones. Sequences whose chunk was shorter than S get their real frames moved to the
   * end (left padding), so the next call's state is right-aligned again; {@code prefix} grows by each chunk length.
   */
  private void realign(int[] chunkLengths) throws OrtException {
    long pastFrames = 0; // the state inputs had max(prefix) frames
    for (long p : prefix) pastFrames = Math.max(pastFrames, p);
    long s = -1; // new frames: the outputs' time minus the inputs'
    for (StateMapping.Entry e : mapping.entries()) {
      int axis = timeAxis(e);
      if (axis >= 0) {
        s = ((OnnxTensor) carried.get(e.output()).orElseThrow()).getInfo().getShape()[axis] - pastFrames;
        break;
      }
    }
    if (s < 0) return;
    int batch = prefix.length;
    long[] real = new long[batch];
    boolean full = true;
    long keep = 0;
    for (int b = 0; b < batch; b++) {
      long len = chunkLengths == null ? s : Math.max(0, Math.min(s, chunkLengths[b]));
      full &= len == s;
      real[b] = prefix[b] + len;
      keep = Math.max(keep, real[b]);
    }
    if (!full) {
      for (StateMapping.Entry e : mapping.entries()) {
        int axis = timeAxis(e);
        if (axis < 0) continue;
        Tensor t = OnnxSession.fromOrt((OnnxTensor) carried.get(e.output()).orElseThrow());
        long[] shape = t.shape();
        float[] src = t.toFloats();
        long outer = 1, inner = 1;
        for (int i = 1; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.length; i++) inner *= shape[i];
        long[] dims = shape.clone();
        dims[axis] = keep;
        float[] dst = new float[(int) Tensor.count(dims)];
        for (int b = 0; b < batch; b++) {
          long from = pastFrames - prefix[b]; // the sequence's first real frame in the output
          long to = keep - real[b]; // and in the re-aligned state
          for (long o = 0; o < outer; o++) {
            long srcBase = (b * outer + o) * shape[axis] * inner, dstBase = (b * outer + o) * keep * inner;
            System.arraycopy(src, (int) (srcBase + from * inner), dst, (int) (dstBase + to * inner), (int) (real[b] * inner));
          }
        }
        realigned.put(e.output(), OnnxSession.toOrt(env, Tensor.ofFloats(dims, dst)));
      }
    }
    prefix = real;
  }

  /** The growing time axis of a state (its first non-batch dim that is not fixed), or -1 (an LSTM state). */
  private static int timeAxis(StateMapping.Entry e) {
    if (!e.inputShape().hasRank()) return -1;
    for (int i = 1; i < e.inputShape().rank(); i++) if (!e.inputShape().dim(i).isFixed()) return i;
    return -1;
  }

  /**
   * The fresh state of a state input: zeros [batch, fixed dims..., 0 frames on every other dim].
   *
   * @param e the state
   * @param batch the batch size
   * @return the zeros
   */
  public static Tensor zeros(StateMapping.Entry e, long batch) {
    if (!e.inputShape().hasRank()) throw new IllegalArgumentException("state input " + e.input() + " has no known rank; feed it in the first call");
    long[] dims = new long[e.inputShape().rank()];
    for (int i = 0; i < dims.length; i++) {
      returnn.onnx.ir.Dim d = e.inputShape().dim(i);
      dims[i] = i == 0 ? batch : d.isFixed() ? d.value() : 0;
    }
    return Tensor.fromDoubles(e.dtype(), dims, new double[(int) Tensor.count(dims)]);
  }

  /** The batch size of a call: the {@code batch} dim of a data tensor fed (else dim 0 of the first one). */
  private long batch(Map<String, Tensor> feeds) {
    for (Map.Entry<String, Tensor> f : feeds.entrySet()) {
      Integer axis = batchAxes.get(f.getKey());
      if (axis != null && !mapping.inputs().contains(f.getKey()) && f.getValue().shape().length > axis) {
        return f.getValue().shape()[axis];
      }
    }
    for (Map.Entry<String, Tensor> f : feeds.entrySet()) {
      if (!mapping.inputs().contains(f.getKey()) && f.getValue().shape().length > 0) return f.getValue().shape()[0];
    }
    throw new IllegalArgumentException("no data input fed to take the batch size of the fresh states from");
  }

  private OnnxTensor own(List<OnnxTensor> owned, Tensor t) throws OrtException {
    OnnxTensor o = OnnxSession.toOrt(env, t);
    owned.add(o);
    return o;
  }

  /**
   * The final states of the last call by state output name (copies); empty before the first call and after reset.
   *
   * @return state output name to tensor
   */
  public Map<String, Tensor> states() {
    check();
    Map<String, Tensor> m = new LinkedHashMap<>();
    if (carried == null) return m;
    for (String name : mapping.outputs()) {
      OnnxTensor t = realigned.containsKey(name) ? realigned.get(name) : (OnnxTensor) carried.get(name).orElseThrow();
      m.put(name, OnnxSession.fromOrt(t));
    }
    return m;
  }

  /** Forgets the carried states: the next call starts fresh sequences. */
  public void reset() {
    check();
    dropCarried();
  }

  /**
   * Real past frames per sequence in the carried attention states (the next {@code prefix-length}), or null.
   *
   * @return per sequence, or null
   */
  public long[] prefixLengths() {
    return prefix == null ? null : prefix.clone();
  }

  private void dropCarried() {
    for (OnnxTensor t : realigned.values()) t.close();
    realigned.clear();
    if (carried != null) carried.close();
    carried = null;
    prefix = null;
  }

  private void check() {
    if (closed) throw new IllegalStateException("streaming session is closed");
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    dropCarried();
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
