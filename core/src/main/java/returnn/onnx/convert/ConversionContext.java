package returnn.onnx.convert;

import java.util.Arrays;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/** What a handler sees of the TF node it converts: converted inputs, attributes, and an ONNX builder. */
public final class ConversionContext {
  private final Node node;
  private final OnnxBuilder onnx;
  private final Value[] outputs;

  ConversionContext(Node node, OnnxBuilder onnx) {
    this.node = node;
    this.onnx = onnx;
    this.outputs = new Value[node.outputs().size()];
  }

  public Node node() {
    return node;
  }

  public String name() {
    return node.tfName();
  }

  public String op() {
    return node.op();
  }

  public OnnxBuilder onnx() {
    return onnx;
  }

  public int opset() {
    return onnx.opset();
  }

  public int inputCount() {
    return node.inputs().size();
  }

  /** Converted input i (already an ONNX value). */
  public Value input(int i) {
    if (i >= node.inputs().size()) throw error("expected at least " + (i + 1) + " inputs, got " + node.inputs().size());
    return node.input(i);
  }

  /** Constant data of input i, or null when it is computed at run time. */
  public Tensor constInput(int i) {
    return input(i).constant();
  }

  public Tensor requireConst(int i, String what) {
    Tensor t = constInput(i);
    if (t == null) throw error(what + " (input " + i + ") must be a constant, but is computed at run time");
    return t;
  }

  public long[] requireConstLongs(int i, String what) {
    return requireConst(i, what).toLongs();
  }

  /** Number of TF outputs consumers use (TF nodes get outputs as consumers reference them). */
  public int outputCount() {
    return outputs.length;
  }

  public boolean outputUsed(int i) {
    return i < outputs.length && node.output(i).useCount() > 0;
  }

  /** The TF `_output_shapes` hint for output i (unknown if absent). */
  public Shape outputShapeHint(int i) {
    if (node.attr("_output_shapes") instanceof Attr.Shapes s && i < s.values().size()) return s.values().get(i);
    return Shape.UNKNOWN;
  }

  public void setOutput(int i, Value v) {
    if (i < outputs.length) outputs[i] = v;
  }

  Value output(int i) {
    return outputs[i];
  }

  public boolean has(String attr) {
    return node.attr(attr) != null;
  }

  public long attrInt(String key, long dflt) {
    return node.intAttr(key, dflt);
  }

  public boolean attrBool(String key, boolean dflt) {
    return node.boolAttr(key, dflt);
  }

  public float attrFloat(String key, float dflt) {
    return node.floatAttr(key, dflt);
  }

  public String attrString(String key, String dflt) {
    return node.stringAttr(key, dflt);
  }

  public long[] attrInts(String key) {
    return node.intsAttr(key);
  }

  public DType attrType(String key) {
    return node.typeAttr(key);
  }

  /** An error naming this node: "node 'x' (Op): message". */
  public ConversionException error(String message) {
    return ConversionException.atNode(node.tfName(), node.op(), message);
  }

  public ConversionException unsupported(String what, Object value) {
    String v = value instanceof long[] l ? Arrays.toString(l) : String.valueOf(value);
    return error("unsupported " + what + " " + v);
  }
}
