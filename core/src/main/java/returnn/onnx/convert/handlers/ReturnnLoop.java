package returnn.onnx.convert.handlers;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/**
 * An ONNX {@code Loop} stepping an LSTM cell over time frames: iteration k visits frame {@code t = first + k * step},
 * carries float states, and emits per-iteration scan outputs that {@link #place} puts back at their frames. The body
 * reads the sequence inputs of the enclosing graph directly (ONNX lets a body use outer values).
 *
 * <pre>{@code
 * ReturnnLoop loop = new ReturnnLoop(b, "lstm", List.of(h0, c0));
 * Value t = loop.frame(first, step);            // in the body
 * ... emit the cell with loop.body() ...
 * List<Value> out = loop.build(trips, List.of(h1, c1), List.of(y));   // [h_final, c_final, y_scan]
 * }</pre>
 */
final class ReturnnLoop {
  private final OnnxBuilder outer;
  private final Graph body;
  private final OnnxBuilder in;
  private final Value iteration;
  private final Value cond;
  private final List<Value> initial;
  private final List<Value> states = new ArrayList<>();

  ReturnnLoop(OnnxBuilder outer, String name, List<Value> initialStates) {
    this.outer = outer;
    this.body = outer.graph().newSubgraph(name + "_body");
    this.in = outer.into(body);
    this.iteration = body.addInput(body.uniqueName(name + "/iteration"), DType.INT64, Shape.SCALAR);
    this.cond = body.addInput(body.uniqueName(name + "/cond"), DType.BOOL, Shape.SCALAR);
    this.initial = List.copyOf(initialStates);
    for (int i = 0; i < initialStates.size(); i++) {
      Value s = initialStates.get(i);
      states.add(body.addInput(body.uniqueName(name + "/state" + i), s.dtype(), s.shape()));
    }
  }

  /** Emits into the loop body. */
  OnnxBuilder body() {
    return in;
  }

  /** The body's value of carried state i. */
  Value state(int i) {
    return states.get(i);
  }

  /** The frame index (int64 scalar) of this iteration: {@code first + iteration * step}, both int64 outer scalars. */
  Value frame(Value first, Value step) {
    return in.op("Add", first, in.op("Mul", iteration, step));
  }

  /** Adds the Loop node with {@code trips} iterations; returns the final states, then the stacked scan outputs. */
  List<Value> build(Value trips, List<Value> nextStates, List<Value> scans) {
    body.addOutput(in.op("Identity", cond));
    for (Value v : nextStates) body.addOutput(v);
    for (Value v : scans) body.addOutput(v);
    List<Value> loopIn = new ArrayList<>(List.of(trips, outer.constant(Tensor.ofBools(new long[0], true))));
    loopIn.addAll(initial);
    Node loop = outer.rawNode(Node.ONNX, "Loop", loopIn, Map.of("body", new Attr.GraphVal(body)),
        nextStates.size() + scans.size());
    return loop.outputs();
  }

  /**
   * First frame and trip count of a RETURNN kernel over T frames: from {@code start} up to T-1, or backward from
   * {@code T-1-start} down to 0 (NativeLstm2) or down to {@code start} ({@code backwardStopsAtStart}: LstmLowMem).
   */
  static Value[] frames(OnnxBuilder b, Value frameCount, Value start, Value step, boolean backwardStopsAtStart) {
    Value zero = b.scalarLong(0);
    Value backward = b.op("Less", step, zero);
    Value first = b.op("Where", backward, b.op("Sub", b.op("Sub", frameCount, start), b.scalarLong(1)), start);
    Value absStep = b.op("Abs", step);
    Value frames = b.op("Sub", frameCount, start);
    if (backwardStopsAtStart) frames = b.op("Where", backward, b.op("Sub", frames, start), frames);
    // ceil(frames / |step|), never negative (T = 0 runs no step and leaves the states as they came in).
    Value span = b.op("Max", frames, zero);
    Value trips = b.op("Div", b.op("Sub", b.op("Add", span, absStep), b.scalarLong(1)), absStep);
    return new Value[] {first, trips};
  }

  /**
   * Scan outputs [K, ...] at their frames of a [T, ...] result, zeros elsewhere ({@code base} elsewhere if not null).
   * Constant start 0 and step ±1 (every RETURNN layer) visit every frame and need no scatter: the scan is the
   * result, reversed for step -1.
   */
  static Value place(OnnxBuilder b, Value scan, Value base, Value frameCount, Value first, Value step,
      Long constStart, Long constStep) {
    if (constStart != null && constStep != null && constStart == 0 && constStep == 1) return scan;
    if (constStart != null && constStep != null && constStart == 0 && constStep == -1) {
      return b.slice(scan, new long[] {-1}, new long[] {Long.MIN_VALUE}, new long[] {0}, new long[] {-1});
    }
    Value trips = dim(b, scan, 0);
    Value frames = b.op("Range", first, b.op("Add", first, b.op("Mul", trips, step)), step);
    if (base == null) {
      Value rest = b.slice(b.shapeOf(scan), new long[] {1}, new long[] {Long.MAX_VALUE}, new long[] {0}, null);
      Value shape = b.concat(List.of(b.unsqueeze(frameCount, 0), rest), 0);
      base = b.op("ConstantOfShape", List.of(shape), Attrs.of("value", Tensor.ofFloats(new long[] {1}, 0f)));
    }
    return b.op("ScatterND", base, b.unsqueeze(frames, 1), scan);
  }

  /** Dimension {@code axis} of {@code v} as an int64 scalar. */
  static Value dim(OnnxBuilder b, Value v, long axis) {
    return b.op("Gather", List.of(b.shapeOf(v), b.scalarLong(axis)), Attrs.of("axis", 0));
  }

  /** An int64 scalar from a TF int32 scalar input. */
  static Value int64(OnnxBuilder b, Value v) {
    Value c = b.cast(v, DType.INT64);
    return c.shape().hasRank() && c.shape().rank() == 0 ? c : b.reshape(c, b.constLongs());
  }

  /** The four gate blocks of [B,4n] pre-activations, in the kernel's order. */
  static List<Value> gates(OnnxBuilder b, Value z) {
    return b.splitEqual(z, 1, 4);
  }
}
