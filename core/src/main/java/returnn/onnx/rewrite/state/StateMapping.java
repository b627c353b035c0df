package returnn.onnx.rewrite.state;

import returnn.onnx.io.MetadataJson;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Shape;

/**
 * Which model input takes which recurrent state and which output gives it back after the call, stored as JSON in the
 * model metadata under {@link #METADATA_KEY}, so the pairing travels with the model: a streaming caller feeds each
 * entry's {@code output} of one call as its {@code input} in the next. The model's outputs are the network outputs
 * first, then the entries' outputs in this order.
 *
 * <pre>{@code
 * {"version": 1, "states": [{"input": "lstm0/rec/initial_state_placeholder_h", "output": "lstm0/rec/last_state_h",
 *   "dtype": "float32", "input_shape": ["batch", 24], "output_shape": ["batch", 24], "default": true,
 *   "origin": "placeholder"}, ...]}
 * }</pre>
 *
 * With attention state, {@code "prefix_length": "prefix-length"} names the int32 [B] input that tells how many of the
 * (left-padded) past frames of each sequence are real.
 *
 * <p>Dims are numbers, names (symbolic) or null (unknown); a shape of unknown rank is null. {@code default}: the input has an initializer of the same name
 * (the state of a fresh sequence), so a caller may leave it out. {@code origin}: {@code placeholder} for RETURNN's
 * {@code initial_state: "placeholder"} inputs (TF placeholders of the same name), {@code automatic} for states the
 * converter exposed itself (no TF counterpart).
 */
public record StateMapping(List<Entry> entries, String prefixLength) {
  public static final String METADATA_KEY = "returnn_onnx.state";
  /** RASR's and i6's convention: one metadata entry {@code STATE_<input>} = {@code <output>} per state. */
  public static final String RASR_PREFIX = "STATE_";
  static final long VERSION = 1;

  /** Where a state input comes from. */
  public enum Origin { PLACEHOLDER, AUTOMATIC }

  /** One state: fed as {@code input}, read back from {@code output}. */
  public record Entry(String input, String output, DType dtype, Shape inputShape, Shape outputShape, boolean hasDefault,
      Origin origin) {}

  public StateMapping {
    entries = List.copyOf(entries);
  }

  /** Without a prefix length input (no attention state). */
  public StateMapping(List<Entry> entries) {
    this(entries, null);
  }

  public List<String> inputs() {
    return entries.stream().map(Entry::input).toList();
  }

  public List<String> outputs() {
    return entries.stream().map(Entry::output).toList();
  }

  /** {@code STATE_<input>} = {@code <output>} for every entry, in mapping order (= the order of the state outputs). */
  public Map<String, String> rasrMetadata() {
    Map<String, String> m = new LinkedHashMap<>();
    for (Entry e : entries) m.put(RASR_PREFIX + e.input(), e.output());
    return m;
  }

  public String toJson() {
    List<Object> states = new ArrayList<>();
    for (Entry e : entries) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("input", e.input());
      m.put("output", e.output());
      m.put("dtype", dtypeName(e.dtype()));
      m.put("input_shape", dims(e.inputShape()));
      m.put("output_shape", dims(e.outputShape()));
      m.put("default", e.hasDefault());
      m.put("origin", e.origin().name().toLowerCase(java.util.Locale.ROOT));
      states.add(m);
    }
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("version", VERSION);
    root.put("states", states);
    if (prefixLength != null) root.put("prefix_length", prefixLength);
    return MetadataJson.write(root);
  }

  /** Reads {@link #toJson}'s form; a clear error for anything else. */
  public static StateMapping fromJson(String json) {
    Object parsed;
    try {
      parsed = MetadataJson.parse(json);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(METADATA_KEY + ": " + e.getMessage(), e);
    }
    if (!(parsed instanceof Map<?, ?> root) || !(root.get("states") instanceof List<?> states)) {
      throw new IllegalArgumentException(METADATA_KEY + ": expected {\"version\": 1, \"states\": [...]}");
    }
    if (!Long.valueOf(VERSION).equals(root.get("version"))) {
      throw new IllegalArgumentException(METADATA_KEY + ": version " + root.get("version") + " is not supported (" + VERSION + ")");
    }
    List<Entry> entries = new ArrayList<>();
    for (Object o : states) {
      if (!(o instanceof Map<?, ?> m)) throw new IllegalArgumentException(METADATA_KEY + ": a state is not an object: " + o);
      entries.add(new Entry(str(m, "input"), str(m, "output"), dtype(str(m, "dtype")), shape(m.get("input_shape")),
          shape(m.get("output_shape")), Boolean.TRUE.equals(m.get("default")),
          Origin.valueOf(str(m, "origin").toUpperCase(java.util.Locale.ROOT))));
    }
    Object prefix = root.get("prefix_length");
    if (prefix != null && !(prefix instanceof String)) throw new IllegalArgumentException(METADATA_KEY + ": prefix_length is not a name");
    return new StateMapping(entries, (String) prefix);
  }

  private static String str(Map<?, ?> m, String key) {
    if (!(m.get(key) instanceof String s)) throw new IllegalArgumentException(METADATA_KEY + ": state " + m + " has no string '" + key + "'");
    return s;
  }

  /** NumPy's names, which callers' tooling speaks. */
  static String dtypeName(DType t) {
    return switch (t) {
      case FLOAT -> "float32";
      case DOUBLE -> "float64";
      case FLOAT16 -> "float16";
      default -> t.lower();
    };
  }

  static DType dtype(String name) {
    for (DType t : DType.values()) if (dtypeName(t).equals(name)) return t;
    throw new IllegalArgumentException(METADATA_KEY + ": unknown dtype '" + name + "'");
  }

  private static List<Object> dims(Shape s) {
    if (!s.hasRank()) return null;
    List<Object> l = new ArrayList<>();
    for (Dim d : s.dims()) l.add(d.isFixed() ? (Object) d.value() : d.symbol());
    return l;
  }

  private static Shape shape(Object o) {
    if (o == null) return Shape.UNKNOWN;
    if (!(o instanceof List<?> l)) throw new IllegalArgumentException(METADATA_KEY + ": a shape is not a list: " + o);
    List<Dim> dims = new ArrayList<>();
    for (Object d : l) {
      if (d instanceof Long v) dims.add(Dim.of(v));
      else if (d instanceof String sym) dims.add(Dim.sym(sym));
      else if (d == null) dims.add(Dim.UNKNOWN);
      else throw new IllegalArgumentException(METADATA_KEY + ": bad dim " + d);
    }
    return Shape.of(dims);
  }
}
