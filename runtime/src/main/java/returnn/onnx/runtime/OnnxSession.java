package returnn.onnx.runtime;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * An ONNX Runtime session over IR tensors. Names are checked before the native call; every native object is closed.
 *
 * <pre>{@code
 * try (OnnxSession s = OnnxSession.open(Path.of("model.onnx"), OnnxSession.Options.defaults())) {
 *   Map<String, Tensor> out = s.run(Map.of("extern_data/placeholders/data/data", feats));
 * }
 * }</pre>
 */
public final class OnnxSession implements AutoCloseable {
  /** Session settings. {@code threads} 0 lets ONNX Runtime choose. */
  public record Options(int threads, boolean optimize) {
    /**
     * Settings; {@code threads} from 0 to 1024.
     *
     * @param threads intra-op threads, 0 for ONNX Runtime's choice
     * @param optimize all graph optimizations, or none
     */
    public Options {
      if (threads < 0 || threads > 1024) throw new IllegalArgumentException("--threads must be 0 to 1024, got " + threads);
    }

    /**
     * ONNX Runtime's choice of threads, optimized.
     *
     * @return the options
     */
    public static Options defaults() {
      return new Options(0, true);
    }

    /**
     * One thread, optimized (for benchmarks and deterministic timing).
     *
     * @return the options
     */
    public static Options singleThread() {
      return new Options(1, true);
    }
  }

  private final OrtEnvironment env;
  /** Kept open while the session lives (ONNX Runtime: options must outlive the sessions made with them). */
  private final OrtSession.SessionOptions options;
  private final OrtSession session;
  private boolean closed;
  private EmptyInputGuard guard = EmptyInputGuard.of(Set.of());
  private List<String> stateInputs = List.of();
  private String source = "model";

  private OnnxSession(OrtSession.SessionOptions options, OrtSession session) {
    this.env = OrtNative.environment();
    this.options = options;
    this.session = session;
  }

  /**
   * Opens a model file; its external data may only lie in its own folder.
   *
   * @param model the model file
   * @param o session settings
   * @return the session
   */
  public static OnnxSession open(Path model, Options o) {
    // ONNX Runtime follows any external-data location (absolute, ../): only the model's folder is allowed.
    Set<String> ops = returnn.onnx.io.ModelPrecheck.check(model);
    OrtSession.SessionOptions so = null;
    try {
      so = sessionOptions(o);
      OnnxSession s = new OnnxSession(so, OrtNative.environment().createSession(model.toString(), so));
      s.guard = EmptyInputGuard.of(ops);
      s.source = model.toString();
      try {
        String json = s.session.getMetadata().getCustomMetadata().get(returnn.onnx.rewrite.state.StateMapping.METADATA_KEY);
        if (json != null) s.stateInputs = returnn.onnx.rewrite.state.StateMapping.fromJson(json).inputs();
      } catch (RuntimeException ignored) {
        // no usable state mapping: every input is guarded
      }
      return s;
    } catch (OrtException e) {
      if (so != null) so.close();
      throw new IllegalStateException(model + ": ONNX Runtime cannot load the model: " + e.getMessage(), e);
    }
  }

  /**
   * Opens a model from its bytes (weights inline), e.g. {@code ConvertedModel.bytes()}.
   *
   * @param model the serialized ModelProto
   * @param o session settings
   * @return the session
   */
  public static OnnxSession open(byte[] model, Options o) {
    OrtSession.SessionOptions so = null;
    try {
      so = sessionOptions(o);
      return new OnnxSession(so, OrtNative.environment().createSession(model, so));
    } catch (OrtException e) {
      if (so != null) so.close();
      throw new IllegalStateException("ONNX Runtime cannot load the model: " + e.getMessage(), e);
    }
  }

  static OrtSession.SessionOptions sessionOptions(Options o) throws OrtException {
    // Before any ORT class loads its natives (see OrtNative); ONNX Runtime 1.15's SessionOptions does not load the
    // native library itself, the environment does.
    OrtNative.environment();
    OrtSession.SessionOptions so = new OrtSession.SessionOptions();
    if (o.threads() > 0) {
      so.setIntraOpNumThreads(o.threads());
      so.setInterOpNumThreads(1);
    }
    so.setOptimizationLevel(o.optimize() ? OrtSession.SessionOptions.OptLevel.ALL_OPT : OrtSession.SessionOptions.OptLevel.NO_OPT);
    return so;
  }

  /**
   * The model's input names, in model order.
   *
   * @return a new list
   */
  public List<String> inputNames() {
    check();
    return new ArrayList<>(session.getInputNames());
  }

  /**
   * The model's output names, in model order.
   *
   * @return a new list
   */
  public List<String> outputNames() {
    check();
    return new ArrayList<>(session.getOutputNames());
  }

  /**
   * ONNX Runtime's description of each input (dtype, shape).
   *
   * @return input name to its info
   */
  public Map<String, NodeInfo> inputInfo() {
    check();
    try {
      return session.getInputInfo();
    } catch (OrtException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Model metadata (custom properties), e.g. provenance and the state mapping.
   *
   * @return property name to value
   */
  public Map<String, String> metadata() {
    check();
    try {
      return session.getMetadata().getCustomMetadata();
    } catch (OrtException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Runs with all outputs.
   *
   * @param feeds input name to tensor
   * @return output name to tensor
   */
  public Map<String, Tensor> run(Map<String, Tensor> feeds) {
    return run(feeds, outputNames());
  }

  /**
   * Runs, returning the outputs {@code fetches} only.
   *
   * @param feeds input name to tensor
   * @param fetches the outputs wanted
   * @return output name to tensor, in the order of {@code fetches}
   */
  public Map<String, Tensor> run(Map<String, Tensor> feeds, List<String> fetches) {
    check();
    for (String k : feeds.keySet()) {
      if (!session.getInputNames().contains(k)) {
        throw new IllegalArgumentException("Unknown input name " + k + ", expected one of " + session.getInputNames());
      }
    }
    for (String k : fetches) {
      if (!session.getOutputNames().contains(k)) {
        throw new IllegalArgumentException("Unknown output name " + k + ", expected one of " + session.getOutputNames());
      }
    }
    guard.check(feeds, stateInputs, source);
    Map<String, OnnxTensor> in = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, Tensor> e : feeds.entrySet()) in.put(e.getKey(), toOrt(env, e.getValue()));
      try (OrtSession.Result r = session.run(in, new java.util.LinkedHashSet<>(fetches))) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, OnnxValue> e : r) out.put(e.getKey(), fromOrt((OnnxTensor) e.getValue()));
        return out;
      }
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime failed: " + e.getMessage(), e);
    } finally {
      for (OnnxTensor t : in.values()) t.close();
    }
  }

  static OnnxTensor toOrt(OrtEnvironment env, Tensor t) throws OrtException {
    if (t.dtype() == DType.STRING) {
      String[] s = new String[(int) t.size()];
      for (int i = 0; i < s.length; i++) s[i] = new String(t.strings().get(i), java.nio.charset.StandardCharsets.UTF_8);
      return OnnxTensor.createTensor(env, s, t.shape());
    }
    ByteBuffer direct = ByteBuffer.allocateDirect((int) t.byteSize()).order(ByteOrder.nativeOrder());
    direct.put(t.data()).flip();
    // Typed buffers for multi-byte types: ONNX Runtime 1.15 counts a ByteBuffer's bytes as elements.
    return switch (t.dtype()) {
      case FLOAT -> OnnxTensor.createTensor(env, direct.asFloatBuffer(), t.shape());
      case DOUBLE -> OnnxTensor.createTensor(env, direct.asDoubleBuffer(), t.shape());
      case INT32 -> OnnxTensor.createTensor(env, direct.asIntBuffer(), t.shape());
      case INT64 -> OnnxTensor.createTensor(env, direct.asLongBuffer(), t.shape());
      case INT16 -> OnnxTensor.createTensor(env, direct.asShortBuffer(), t.shape());
      default -> OnnxTensor.createTensor(env, direct, t.shape(), javaType(t.dtype()));
    };
  }

  static Tensor fromOrt(OnnxTensor t) {
    TensorInfo info = t.getInfo();
    DType dt = dtype(info.type);
    // getByteBuffer() already copies out of ORT's memory into a fresh buffer (native byte order, which Tensor assumes
    // little endian like ORT's own format): the tensor can own it, no second copy of e.g. a [B,T,vocab] output.
    return Tensor.of(dt, info.getShape(), t.getByteBuffer());
  }

  static OnnxJavaType javaType(DType t) {
    return switch (t) {
      case FLOAT -> OnnxJavaType.FLOAT;
      case DOUBLE -> OnnxJavaType.DOUBLE;
      case INT32 -> OnnxJavaType.INT32;
      case INT64 -> OnnxJavaType.INT64;
      case INT16 -> OnnxJavaType.INT16;
      case INT8 -> OnnxJavaType.INT8;
      case UINT8 -> OnnxJavaType.UINT8;
      case BOOL -> OnnxJavaType.BOOL;
      case FLOAT16 -> OnnxJavaType.FLOAT16;
      case BFLOAT16 -> OnnxJavaType.BFLOAT16;
      default -> throw new IllegalArgumentException("ONNX Runtime Java cannot feed " + t);
    };
  }

  static DType dtype(OnnxJavaType t) {
    return switch (t) {
      case FLOAT -> DType.FLOAT;
      case DOUBLE -> DType.DOUBLE;
      case INT32 -> DType.INT32;
      case INT64 -> DType.INT64;
      case INT16 -> DType.INT16;
      case INT8 -> DType.INT8;
      case UINT8 -> DType.UINT8;
      case BOOL -> DType.BOOL;
      case FLOAT16 -> DType.FLOAT16;
      case BFLOAT16 -> DType.BFLOAT16;
      default -> throw new IllegalArgumentException("unsupported ONNX Runtime output type " + t);
    };
  }

  private void check() {
    if (closed) throw new IllegalStateException("session is closed");
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    try {
      session.close();
    } catch (OrtException e) {
      throw new IllegalStateException(e);
    } finally {
      options.close();
    }
  }
}
