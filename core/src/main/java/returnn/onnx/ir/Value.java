package returnn.onnx.ir;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * An edge: produced by one node output (or a graph input, or a constant), used by node inputs and graph outputs.
 * Values know their producer and their uses, so rewrites replace uses instead of editing strings.
 */
public final class Value {
  /** One use: input {@code index} of {@code node}. */
  public record Use(Node node, int index) {}

  private String name;
  private DType dtype;
  private Shape shape;
  private Node producer;
  private int outputIndex;
  private final Tensor constant;
  final List<Use> uses = new ArrayList<>();
  Graph graphOutputOf;

  Value(String name, DType dtype, Shape shape, Tensor constant) {
    this.name = name;
    this.dtype = dtype;
    this.shape = shape == null ? Shape.UNKNOWN : shape;
    this.constant = constant;
  }

  public String name() {
    return name;
  }

  public void setName(String name) {
    this.name = name;
  }

  public DType dtype() {
    return dtype;
  }

  public void setDtype(DType dtype) {
    this.dtype = dtype;
  }

  public Shape shape() {
    return shape;
  }

  public void setShape(Shape shape) {
    this.shape = shape == null ? Shape.UNKNOWN : shape;
  }

  /** The node producing this value, or null for graph inputs and constants. */
  public Node producer() {
    return producer;
  }

  public int outputIndex() {
    return outputIndex;
  }

  void setProducer(Node node, int index) {
    this.producer = node;
    this.outputIndex = index;
  }

  /** The constant data if this value is a constant (an initializer), else null. */
  public Tensor constant() {
    return constant;
  }

  public boolean isConstant() {
    return constant != null;
  }

  public List<Use> uses() {
    return Collections.unmodifiableList(uses);
  }

  public boolean isGraphOutput() {
    return graphOutputOf != null;
  }

  /** Number of consumers, counting a graph output as one. */
  public int useCount() {
    return uses.size() + (graphOutputOf != null ? 1 : 0);
  }

  @Override
  public String toString() {
    return name + ":" + (dtype == null ? "?" : dtype.lower()) + (shape.hasRank() ? "" : " ") + shape;
  }
}
