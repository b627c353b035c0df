package returnn.onnx.rewrite.controlflow;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.eval.TypeInference;
import returnn.onnx.rewrite.controlflow.TensorArrays.Contents;

/**
 * Turns one TF1 while-loop frame into an ONNX Loop whose body holds the frame's nodes (still "tf" dialect).
 *
 * <p>TF checks the condition before every iteration, ONNX before the first (the {@code cond} input) and then on what
 * the body returns. So the condition's nodes are copied twice: outside, on the initial values, and at the end of the
 * body, on the next values. Loop variables become loop-carried values (Merge → body input, NextIteration's input →
 * body output, Exit → Loop output), loop-constant Enters disappear (the body reads the outer value), and a TensorArray
 * written at the iteration number becomes a scan output, stacked by ONNX and zero-padded to the array's size after the
 * loop (TF reads unwritten elements of a fixed-shape array as zeros; {@code dynamic_rnn} runs fewer steps than its array
 * holds when every sequence is shorter than the padded time axis). A write at a loop variable counting down by 1
 * (RETURNN's search resolve loop) is a scan output reversed. Reads of the array after the loop become Gathers there;
 * reads in a later loop, which enters the Exit flow as a loop constant, become Gathers in that loop (converted next),
 * of the array as an outer value.
 */
final class LoopConversion {
  private final Graph g;
  private final Frames frames;
  private final Frames.Frame frame;
  private final int opset;
  private final LoopStructure loop;

  private LoopConversion(LoopStructure loop, int opset) {
    this.g = loop.g;
    this.frames = loop.frames;
    this.frame = loop.frame;
    this.opset = opset;
    this.loop = loop;
  }

  /** Converts {@code frame} of {@code g} (its inner loops already converted). */
  static void convert(Graph g, Frames frames, Frames.Frame frame, int opset) {
    LoopConversion c = new LoopConversion(LoopStructure.of(g, frames, frame), opset);
    c.replaceTensorArrayReads();
    c.build();
  }

  /** Reads of arrays filled before the loop (TF's unstack) become Gathers of the filled value. */
  private void replaceTensorArrayReads() {
    List<Node> ops = new ArrayList<>();
    for (Node n : loop.liveNodes()) if (TensorArrays.isOp(n)) ops.add(n);
    ops.sort(Comparator.comparingInt(TensorArrays::readerRank));
    for (Node n : ops) {
      if (n.graph() != g) continue;
      boolean written = false;
      for (LoopStructure.LoopVar v : loop.vars) written |= v.write == n;
      if (written) continue;
      int f = TensorArrays.flowInput(n);
      Contents c = f < 0 ? null : TensorArrays.scattered(n.input(f));
      if (c == null) {
        throw ConversionErrors.inLoop(frame.name, n, "uses a TensorArray that is neither filled before the loop "
            + "(unstack) nor written by it at the iteration number");
      }
      emit(frame, () -> TensorArrays.replaceReader(n, c, builder()));
    }
  }

  private void build() {
    List<LoopStructure.LoopVar> carried = new ArrayList<>();
    List<LoopStructure.LoopVar> scanned = new ArrayList<>();
    for (LoopStructure.LoopVar v : loop.vars) (v.write == null ? carried : scanned).add(v);
    String scope = frame.scope();
    Graph body = g.newSubgraph(scope + "/body");
    body.addInput(g.uniqueName(scope + "/iteration_num"), DType.INT64, Shape.SCALAR);
    body.addInput(g.uniqueName(scope + "/cond_in"), DType.BOOL, Shape.SCALAR);
    for (LoopStructure.LoopVar v : carried) {
      v.bodyInput = body.addInput(g.uniqueName(v.merge.tfName() + "/value"), v.type, TfNodes.shapeHint(v.merge, 0));
    }
    Value maxTrips = maxTripCount();
    Value[] cond = copyCondition(carried, body);
    rewireIntoBody(carried);
    for (Node n : loop.liveNodes()) if (!loop.controlNodes.contains(n)) g.moveNode(n, body);

    TfNodes.addSubgraphOutput(body, cond[1], DType.BOOL, scope + "/cond_out");
    for (LoopStructure.LoopVar v : carried) {
      TfNodes.addSubgraphOutput(body, v.next.input(0), v.type, v.next.tfName() + "/value");
    }
    for (LoopStructure.LoopVar v : scanned) {
      TfNodes.addSubgraphOutput(body, v.write.input(2), TfNodes.type(v.write, "T"), v.write.tfName() + "/element");
    }
    List<Value> ins = new ArrayList<>();
    ins.add(maxTrips);
    ins.add(cond[0]);
    for (LoopStructure.LoopVar v : carried) ins.add(v.enter.input(0));
    Node node = g.addNode(Node.ONNX, "Loop", scope, frame.name, ins, carried.size() + scanned.size());
    node.set("body", new Attr.GraphVal(body));
    TypeInference.infer(node, opset);
    frames.assign(node, frame.parent);

    for (int k = 0; k < carried.size(); k++) {
      for (Node x : carried.get(k).exits) g.replaceAllUses(x.output(0), node.output(k));
    }
    for (int j = 0; j < scanned.size(); j++) {
      LoopStructure.LoopVar v = scanned.get(j);
      Value scan = node.output(carried.size() + j);
      Node array = TensorArrays.arrayOf(v.write.input(0));
      Contents c = emitting(frame.parent, () -> v.countdown == null
          ? padToSize(scan, array) : placeCountdown(scan, array, v.countdown.enter.input(0)));
      for (Node x : v.exits) replaceExitReaders(x.output(0), c);
    }
    removeControlNodes(body);
  }

  /**
   * The condition's nodes copied twice: outside on the initial values (the Loop's {@code cond} input) and into the
   * body on the next values (the body's {@code cond} output). Returns both predicates.
   */
  private Value[] copyCondition(List<LoopStructure.LoopVar> carried, Graph body) {
    Map<Value, Value> initial = new IdentityHashMap<>();
    Map<Value, Value> next = new IdentityHashMap<>();
    for (Node e : loop.invariants) {
      initial.put(e.output(0), e.input(0));
      next.put(e.output(0), e.input(0));
    }
    for (LoopStructure.LoopVar v : carried) {
      initial.put(v.merge.output(0), v.enter.input(0));
      next.put(v.merge.output(0), v.next.input(0));
    }
    for (Node n : loop.condNodes) frames.assign(TfNodes.copy(n, g, initial), frame.parent);
    for (Node n : loop.condNodes) TfNodes.copy(n, body, next);
    Value pred = loop.loopCond.input(0);
    return new Value[] {initial.getOrDefault(pred, pred), next.getOrDefault(pred, pred)};
  }

  /**
   * Loop constants become the outer values themselves; the body's view of each carried variable (Switch true output)
   * and any remaining use of its Merge become the body input.
   */
  private void rewireIntoBody(List<LoopStructure.LoopVar> carried) {
    for (Node e : loop.invariants) g.replaceAllUses(e.output(0), e.input(0));
    for (LoopStructure.LoopVar v : carried) {
      if (v.bodyView() != null) g.replaceAllUses(v.bodyView(), v.bodyInput);
      for (Value.Use u : TfNodes.uses(v.merge.output(0))) {
        if (u.node() != v.sw) u.node().graph().setInput(u.node(), u.index(), v.bodyInput);
      }
    }
  }

  /**
   * TF's {@code maximum_iterations}: the condition {@code LogicalAnd(Less(counter, max), ...)} on a counter from 0 by 1
   * gives ONNX Loop's trip count {@code max} (the condition stays as it is, so this only adds the bound ONNX knows).
   */
  private Value maxTripCount() {
    Value pred = TfNodes.skipIdentity(loop.loopCond.input(0));
    if (!TfNodes.producedBy(pred, "LogicalAnd")) return null;
    for (Value in : pred.producer().inputs()) {
      Value less = TfNodes.skipIdentity(in);
      if (!TfNodes.producedBy(less, "Less")) continue;
      Node l = less.producer();
      Value bound = l.input(1);
      Node be = bound.producer();
      boolean invariant = be != null && loop.invariants.contains(be);
      if ((invariant || bound.isConstant()) && loop.counterCompared(l) != null) {
        Value max = invariant ? be.input(0) : bound;
        // TF runs no iteration for a negative bound; the trip count is clamped at 0 to say the same.
        return emitting(frame.parent, () -> {
          OnnxBuilder b = builder();
          return b.op("Max", b.cast(max, DType.INT64), b.scalarLong(0));
        });
      }
    }
    return null;
  }

  /**
   * The array after the loop: the scan output {@code [iterations, element...]} followed by zeros up to the array's
   * size ({@code max(size, iterations)} for a dynamic_size array), and that size as int32.
   */
  private Contents padToSize(Value scan, Node array) {
    OnnxBuilder b = builder();
    Value shape = b.shapeOf(scan);
    Value iterations = b.slice(shape, new long[] {0}, new long[] {1}, new long[] {0}, null);
    Value rest = b.slice(shape, new long[] {1}, new long[] {Long.MAX_VALUE}, new long[] {0}, null);
    Value declared = b.unsqueeze(b.cast(array.input(0), DType.INT64), 0);
    boolean dynamic = array.boolAttr("dynamic_size", false);
    Value size = dynamic ? b.op("Max", declared, iterations) : declared;
    Value missing = b.op("Max", b.op("Sub", size, iterations), b.constLongs(0));
    DType t = TfNodes.type(array, "dtype");
    Tensor zero = t.isFloating() ? Tensor.fromDoubles(t, new long[] {1}, new double[] {0})
        : Tensor.fromLongs(t, new long[] {1}, new long[] {0});
    Value zeros = b.op("ConstantOfShape", List.of(b.concat(List.of(missing, rest), 0)), Attrs.of("value", zero));
    Value all = b.concat(List.of(scan, zeros), 0);
    Value size32 = dynamic ? b.cast(b.squeeze(size, 0), DType.INT32) : array.input(0);
    return new Contents(all, size32);
  }

  /**
   * The array after a loop that wrote element {@code init - j} in iteration {@code j} (a count-down from {@code init},
   * RETURNN's search resolve loop walking the decoder's steps backwards): the scan output reversed, holding elements
   * {@code init-iterations+1 .. init}, between zeros for the elements below and above them, and the array's size
   * ({@code max(size, init+1)} for a dynamic_size array).
   */
  private Contents placeCountdown(Value scan, Node array, Value init) {
    OnnxBuilder b = builder();
    Value reversed = b.slice(scan, new long[] {-1}, new long[] {Long.MIN_VALUE}, new long[] {0}, new long[] {-1});
    Value shape = b.shapeOf(scan);
    Value iterations = b.slice(shape, new long[] {0}, new long[] {1}, new long[] {0}, null);
    Value rest = b.slice(shape, new long[] {1}, new long[] {Long.MAX_VALUE}, new long[] {0}, null);
    // One past the highest element written; at least 0 (a loop starting below 0 writes nothing).
    Value top = b.op("Max", b.op("Add", b.unsqueeze(b.cast(init, DType.INT64), 0), b.constLongs(1)), b.constLongs(0));
    Value declared = b.unsqueeze(b.cast(array.input(0), DType.INT64), 0);
    boolean dynamic = array.boolAttr("dynamic_size", false);
    Value size = dynamic ? b.op("Max", declared, top) : declared;
    Value below = b.op("Max", b.op("Sub", top, iterations), b.constLongs(0));
    Value above = b.op("Max", b.op("Sub", size, top), b.constLongs(0));
    DType t = TfNodes.type(array, "dtype");
    Value all = b.concat(List.of(zeros(b, below, rest, t), reversed, zeros(b, above, rest, t)), 0);
    Value size32 = dynamic ? b.cast(b.squeeze(size, 0), DType.INT32) : array.input(0);
    return new Contents(all, size32);
  }

  /** Zeros of type {@code t} and shape {@code [count, rest...]}. */
  private static Value zeros(OnnxBuilder b, Value count, Value rest, DType t) {
    Tensor zero = t.isFloating() ? Tensor.fromDoubles(t, new long[] {1}, new double[] {0})
        : Tensor.fromLongs(t, new long[] {1}, new long[] {0});
    return b.op("ConstantOfShape", List.of(b.concat(List.of(count, rest), 0)), Attrs.of("value", zero));
  }

  /**
   * Replaces the reads of a TensorArray flow leaving the loop (through Identity) by reads of {@code c}; also reads in
   * a later loop that gets the flow as a loop constant (RETURNN's search resolve loop reading the decoder loop's
   * choices): those become Gathers inside that loop, of {@code c} as an outer value.
   */
  private void replaceExitReaders(Value flow, Contents c) {
    List<Node> users = new ArrayList<>();
    for (Value.Use u : TfNodes.uses(flow)) {
      Node n = u.node();
      if (TfNodes.isTf(n, "Identity")) {
        replaceExitReaders(n.output(0), c);
        if (n.output(0).useCount() == 0) n.graph().removeNode(n);
      } else if (TfNodes.isTf(n, "Enter") && n.boolAttr("is_constant", false) && frames.frameOf(n) != frame) {
        replaceExitReaders(n.output(0), c);
        if (n.output(0).useCount() == 0) n.graph().removeNode(n);
      } else if (TensorArrays.isOp(n) && TensorArrays.flowInput(n) == u.index()) {
        users.add(n);
      } else {
        throw ConversionErrors.inLoop(frame.name, n, "uses a TensorArray flow leaving the loop; only reads, gathers "
            + "(stack) and sizes of the written array are supported after the loop");
      }
    }
    users.sort(Comparator.comparingInt(TensorArrays::readerRank));
    for (Node n : new LinkedHashSet<>(users)) {
      emit(frames.frameOf(n), () -> TensorArrays.replaceReader(n, c, builder()));
    }
  }

  /** Removes Enter, Merge, Switch, LoopCond, NextIteration, Exit and the scan writes once nothing uses them. */
  private void removeControlNodes(Graph body) {
    List<Node> doomed = new ArrayList<>(loop.controlNodes);
    for (LoopStructure.LoopVar v : loop.vars) {
      if (v.write != null) doomed.add(v.write);
      // Cut the back edge Merge ← NextIteration, or a flow's cycle (Merge, Switch, write, NextIteration) stays used.
      for (int i = 0; i < v.merge.inputs().size(); i++) g.setInput(v.merge, i, null);
    }
    boolean progress = true;
    while (progress) {
      progress = false;
      for (Node n : doomed) {
        if (n.graph() == null) continue;
        boolean unused = true;
        for (Value o : n.outputs()) unused &= o.useCount() == 0;
        if (unused) {
          n.graph().removeNode(n);
          progress = true;
        }
      }
      if (body.removeDeadNodes() > 0) progress = true;
    }
    for (Node n : doomed) {
      if (n.graph() == null) continue;
      for (Value o : n.outputs()) {
        if (o.useCount() > 0) {
          Node user = o.uses().isEmpty() ? null : o.uses().get(0).node();
          throw ConversionErrors.inLoop(frame.name, user, "still uses '" + n.tfName() + "' (" + n.op() + ") after the "
              + "loop was built; this loop shape is not supported");
        }
      }
    }
  }

  private OnnxBuilder builder() {
    return new OnnxBuilder(g, opset, frame.scope(), frame.name);
  }

  /** Runs {@code r} and records the top-level nodes it added as running in {@code f}. */
  private void emit(Frames.Frame f, Runnable r) {
    emitting(f, () -> {
      r.run();
      return null;
    });
  }

  /** Like {@link #emit} for a computation with a result. */
  private <T> T emitting(Frames.Frame f, java.util.function.Supplier<T> r) {
    Set<Node> before = Collections.newSetFromMap(new IdentityHashMap<>());
    before.addAll(g.nodes());
    T result = r.get();
    for (Node n : g.nodes()) if (!before.contains(n)) frames.assign(n, f);
    return result;
  }
}
