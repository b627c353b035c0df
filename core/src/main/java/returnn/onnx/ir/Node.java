package returnn.onnx.ir;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One operation of some dialect ({@link #TF}, ONNX default domain "", "com.microsoft"). */
public final class Node {
  public static final String TF = "tf";
  public static final String ONNX = "";
  public static final String MS = "com.microsoft";

  private static final java.util.concurrent.atomic.AtomicLong SERIALS = new java.util.concurrent.atomic.AtomicLong();

  /** Creation order across all graphs: passes use it to tell nodes they added from older ones. */
  private final long serial = SERIALS.getAndIncrement();
  private final String domain;
  private final String op;
  private String name;
  private final String tfName;
  final List<Value> inputs = new ArrayList<>();
  final List<Value> outputs = new ArrayList<>();
  private final Map<String, Attr> attrs = new LinkedHashMap<>();
  Graph graph;

  Node(String domain, String op, String name, String tfName) {
    this.domain = domain;
    this.op = op;
    this.name = name;
    this.tfName = tfName;
  }

  public long serial() {
    return serial;
  }

  /** The serial the next node created will have. */
  public static long nextSerial() {
    return SERIALS.get();
  }

  public String domain() {
    return domain;
  }

  public String op() {
    return op;
  }

  public boolean is(String domain, String op) {
    return this.domain.equals(domain) && this.op.equals(op);
  }

  public boolean isOnnx(String op) {
    return is(ONNX, op);
  }

  public String name() {
    return name;
  }

  public void setName(String name) {
    this.name = name;
  }

  /** The TF node this node came from (for errors and provenance). */
  public String tfName() {
    return tfName;
  }

  public Graph graph() {
    return graph;
  }

  public List<Value> inputs() {
    return Collections.unmodifiableList(inputs);
  }

  /** Input i, or null if absent or an empty optional input. */
  public Value input(int i) {
    return i < inputs.size() ? inputs.get(i) : null;
  }

  public List<Value> outputs() {
    return Collections.unmodifiableList(outputs);
  }

  public Value output(int i) {
    return outputs.get(i);
  }

  public Map<String, Attr> attrs() {
    return Collections.unmodifiableMap(attrs);
  }

  public Attr attr(String key) {
    return attrs.get(key);
  }

  public Node set(String key, Attr value) {
    attrs.put(key, value);
    return this;
  }

  public void removeAttr(String key) {
    attrs.remove(key);
  }

  public long intAttr(String key, long dflt) {
    Attr a = attrs.get(key);
    if (a == null) return dflt;
    if (a instanceof Attr.Int i) return i.value();
    if (a instanceof Attr.Bool b) return b.value() ? 1 : 0;
    throw new IllegalStateException("attribute " + key + " of " + describe() + " is not an int: " + a);
  }

  public boolean boolAttr(String key, boolean dflt) {
    Attr a = attrs.get(key);
    if (a == null) return dflt;
    if (a instanceof Attr.Bool b) return b.value();
    if (a instanceof Attr.Int i) return i.value() != 0;
    throw new IllegalStateException("attribute " + key + " of " + describe() + " is not a bool: " + a);
  }

  public float floatAttr(String key, float dflt) {
    Attr a = attrs.get(key);
    if (a == null) return dflt;
    if (a instanceof Attr.Float f) return f.value();
    if (a instanceof Attr.Int i) return i.value();
    throw new IllegalStateException("attribute " + key + " of " + describe() + " is not a float: " + a);
  }

  public String stringAttr(String key, String dflt) {
    Attr a = attrs.get(key);
    if (a == null) return dflt;
    if (a instanceof Attr.Str s) return s.value();
    throw new IllegalStateException("attribute " + key + " of " + describe() + " is not a string: " + a);
  }

  public long[] intsAttr(String key) {
    Attr a = attrs.get(key);
    if (a == null) return null;
    if (a instanceof Attr.Ints i) return i.values();
    throw new IllegalStateException("attribute " + key + " of " + describe() + " is not a list of ints: " + a);
  }

  public DType typeAttr(String key) {
    Attr a = attrs.get(key);
    if (a == null) return null;
    if (a instanceof Attr.Type t) return t.value();
    throw new IllegalStateException("attribute " + key + " of " + describe() + " is not a type: " + a);
  }

  /** "'name' (Op)" for messages; uses the TF name when there is one. */
  public String describe() {
    String n = tfName != null ? tfName : name;
    return "'" + n + "' (" + (domain.isEmpty() || domain.equals(TF) ? "" : domain + ".") + op + ")";
  }

  @Override
  public String toString() {
    return describe();
  }
}
