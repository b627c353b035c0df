package returnn.onnx.rewrite.state;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/**
 * The graph side of a state: an input with a default, broadcast over the batch, and a named output.
 *
 * <p>A default has to be one fixed tensor while the batch is only known at run time, so it is stored with batch 1
 * (and 0 frames on a growing time axis) and the input goes through {@code Expand} to
 * {@code [batch, 1, ..., 1]}: numpy broadcasting turns the default into a batch of fresh states (1 → B, and 0 frames
 * stay 0), and leaves a fed state of the right batch as it is.
 */
final class StatePorts {
  /** Symbolic names of the state dims that are not fixed: the batch, the frames before and after a call. */
  static final String BATCH = "batch";
  static final String PAST = "past_time";
  static final String TOTAL = "total_time";

  private StatePorts() {}

  /**
   * The batch-major shape of a state input: dim 0 the batch, fixed dims kept, any other dim a growing time axis.
   * Null if the rank is unknown.
   */
  static Shape inputShape(Shape s) {
    return named(s, PAST);
  }

  static Shape outputShape(Shape s) {
    return named(s, TOTAL);
  }

  private static Shape named(Shape s, String time) {
    if (!s.hasRank() || s.rank() == 0) return null;
    List<Dim> dims = new ArrayList<>();
    for (int i = 0; i < s.rank(); i++) {
      Dim d = s.dim(i);
      dims.add(i == 0 ? Dim.sym(BATCH) : d.isFixed() ? d : Dim.sym(time));
    }
    return Shape.of(dims);
  }

  /** The fresh state for a shape from {@link #inputShape}: zeros with batch 1 and no frames. */
  static Tensor zeros(DType dtype, Shape shape) {
    long[] dims = new long[shape.rank()];
    for (int i = 0; i < dims.length; i++) dims[i] = i == 0 ? 1 : shape.dim(i).isFixed() ? shape.dim(i).value() : 0;
    return Tensor.fromDoubles(dtype, dims, new double[(int) Tensor.count(dims)]);
  }

  /**
   * Gives {@code input} the default {@code fresh} and rewires its uses to {@code Expand(input, [B, 1, ...])}, where B
   * is dim {@code batchAxis} of {@code batchSource}. Returns the expanded value.
   */
  static Value withDefault(Graph g, OnnxBuilder ob, Value input, Tensor fresh, Value batchSource, int batchAxis) {
    g.setInputDefault(input, fresh);
    List<Value.Use> uses = new ArrayList<>(input.uses());
    Value batch = ob.slice(ob.shapeOf(batchSource), new long[] {batchAxis}, new long[] {batchAxis + 1}, new long[] {0}, null);
    long[] ones = new long[fresh.rank() - 1];
    java.util.Arrays.fill(ones, 1);
    Value shape = ones.length == 0 ? batch : ob.concat(List.of(batch, ob.constLongs(ones)), 0);
    Value expanded = ob.op("Expand", input, shape);
    expanded.setDtype(input.dtype());
    expanded.setShape(input.shape());
    for (Value.Use u : uses) g.setInput(u.node(), u.index(), expanded);
    return expanded;
  }

  /** Adds {@code v} as the graph output {@code name} (through an Identity, so the name is the output's own). */
  static Value addOutput(Graph g, String name, Value v, Shape shape) {
    Node id = g.addNode(Node.ONNX, "Identity", name + "/Identity", null, List.of(v), 1);
    Value out = id.output(0);
    out.setName(name);
    out.setDtype(v.dtype());
    out.setShape(shape);
    g.addOutput(out);
    return out;
  }
}
