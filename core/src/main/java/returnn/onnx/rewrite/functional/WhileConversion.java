package returnn.onnx.rewrite.functional;

import java.util.ArrayList;
import java.util.IdentityHashMap;
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
import returnn.onnx.eval.TypeInference;

/**
 * A functional {@code While}/{@code StatelessWhile} (control flow v2) to an ONNX {@code Loop}.
 *
 * <p>TF checks {@code cond} before every iteration, ONNX before the first (the Loop's {@code cond} input) and then on
 * what the body returns: the cond function is copied once into the outer graph on the initial values, and moved into
 * the body on the next values. TF's {@code while_v2} passes everything the body reads as loop variables (the loop
 * counter, {@code maximum_iterations}, captured tensors); a variable the body returns unchanged becomes a loop constant
 * (the body reads the outer value; the While's output is the input). The rest are loop-carried values, except
 * TensorLists written once per iteration at the iteration number ({@code TensorListSetItem(list, i, x)} with {@code i}
 * a variable from 0 by 1, on a list from {@code TensorListReserve}): those become scan outputs, zero-padded after the
 * loop to the reserved size (TF reads unset elements of a list with a known element shape as zeros). Lists read in
 * the body come in unchanged and are plain tensors ({@code TensorListFromTensor} is its tensor; see
 * {@code TensorListHandlers}).
 */
final class WhileConversion {
  private final Node call;
  private final Graph g;
  private final int opset;
  private final Graph body;
  private final Graph cond;
  private final List<Value> inits;
  private final List<Value> bodyIns;
  private final List<Value> bodyOuts;
  private final List<DType> types;
  private final int n;

  private enum Kind { CARRIED, CONSTANT, SCAN }

  private final List<Kind> kinds = new ArrayList<>();
  /** For a SCAN variable: the TensorListSetItem writing it. */
  private final Map<Integer, Node> writes = new java.util.HashMap<>();
  /** Body arguments → what replaced them (the Loop body's input, or the outer value of a loop constant). */
  private final Map<Value, Value> replacedArgs = new IdentityHashMap<>();

  private WhileConversion(Node call, int opset) {
    this.call = call;
    this.g = call.graph();
    this.opset = opset;
    this.body = Calls.function(call, "body");
    this.cond = Calls.function(call, "cond");
    this.inits = new ArrayList<>(call.inputs());
    this.n = inits.size();
    this.types = Calls.types(call, "T");
    this.bodyIns = new ArrayList<>(body.inputs());
    this.bodyOuts = Calls.takeOutputs(body);
  }

  static void convert(Node call, int opset) {
    new WhileConversion(call, opset).run();
  }

  private String fn(Graph f) {
    return "function '" + f.name() + "'";
  }

  private void run() {
    if (bodyIns.size() != n || bodyOuts.size() != n || cond.inputs().size() != n || types.size() != n) {
      throw Calls.error(call, "has " + n + " loop variables, but body " + fn(body) + " takes " + bodyIns.size()
          + " and returns " + bodyOuts.size() + ", cond " + fn(cond) + " takes " + cond.inputs().size());
    }
    List<Value> condOuts = Calls.takeOutputs(cond);
    if (condOuts.size() != 1) throw Calls.error(call, "cond " + fn(cond) + " returns " + condOuts.size() + " values, not 1");
    Value pred = condOuts.get(0);
    for (int k = 0; k < n; k++) kinds.add(Calls.skipIdentity(bodyOuts.get(k)) == bodyIns.get(k) ? Kind.CONSTANT : Kind.CARRIED);
    for (int k = 0; k < n; k++) if (kinds.get(k) == Kind.CONSTANT) replaceArg(bodyIns.get(k), inits.get(k));
    for (int k = 0; k < n; k++) if (kinds.get(k) == Kind.CARRIED && types.get(k) == DType.VARIANT) findScan(k);
    checkSupported();

    Value maxTrips = maxTripCount(pred);
    // The condition on the initial values, in the outer graph.
    Map<Value, Value> initial = new IdentityHashMap<>();
    for (int k = 0; k < n; k++) initial.put(cond.inputs().get(k), inits.get(k));
    Calls.copyNodes(cond, g, initial);
    Value pred0 = initial.getOrDefault(pred, pred);

    String scope = call.tfName() != null ? call.tfName() : call.name();
    Graph loopBody = g.newSubgraph(scope + "/body");
    loopBody.addInput(g.uniqueName(scope + "/iteration_num"), DType.INT64, Shape.SCALAR);
    loopBody.addInput(g.uniqueName(scope + "/cond_in"), DType.BOOL, Shape.SCALAR);
    Shape[] hints = shapes();
    List<Integer> carried = new ArrayList<>();
    List<Integer> scanned = new ArrayList<>();
    for (int k = 0; k < n; k++) {
      if (kinds.get(k) == Kind.CARRIED) {
        carried.add(k);
        Value in = loopBody.addInput(g.uniqueName(bodyIns.get(k).name()), types.get(k), hints[k]);
        replaceArg(bodyIns.get(k), in);
      } else if (kinds.get(k) == Kind.SCAN) {
        scanned.add(k);
      }
    }
    for (Node x : new ArrayList<>(body.nodes())) body.moveNode(x, loopBody);
    // The condition on the next values, at the end of the body.
    for (int k = 0; k < n; k++) {
      Value next = kinds.get(k) == Kind.CONSTANT ? inits.get(k) : next(k);
      g.replaceAllUses(cond.inputs().get(k), next);
    }
    for (Node x : new ArrayList<>(cond.nodes())) cond.moveNode(x, loopBody);

    loopBody.addOutput(Calls.identity(loopBody, pred, DType.BOOL, scope + "/cond_out"));
    for (int k : carried) {
      loopBody.addOutput(Calls.identity(loopBody, next(k), types.get(k), bodyOuts.get(k).name() + "/next"));
    }
    for (int k : scanned) {
      Node w = writes.get(k);
      loopBody.addOutput(Calls.identity(loopBody, w.input(2), w.typeAttr("element_dtype"), w.tfName() + "/element"));
    }
    List<Value> ins = new ArrayList<>();
    ins.add(maxTrips);
    ins.add(pred0);
    for (int k : carried) ins.add(inits.get(k));
    Node loop = g.addNode(Node.ONNX, "Loop", scope, call.tfName(), ins, carried.size() + scanned.size());
    loop.set("body", new Attr.GraphVal(loopBody));
    TypeInference.infer(loop, opset);

    for (int k = 0; k < n; k++) {
      Value out = Calls.output(call, k);
      if (out == null) continue;
      Value replacement = switch (kinds.get(k)) {
        case CONSTANT -> inits.get(k);
        case CARRIED -> loop.output(carried.indexOf(k));
        case SCAN -> padded(loop.output(carried.size() + scanned.indexOf(k)), k, scope);
      };
      g.replaceAllUses(out, replacement);
    }
    call.removeAttr("body");
    call.removeAttr("cond");
    g.removeNode(call);
    loopBody.removeDeadNodes();
    readsAsGathers(loopBody);
  }

  /**
   * {@code TensorListGetItem} in the body of a list made by {@code TensorListFromTensor(x)} outside becomes
   * {@code Gather(x, i)} now (what its handler would give later): the body then reads {@code x[t]} as a TF 1 loop's
   * TensorArray read does after {@code WhileLoopRule}, which the LSTM loop fusion recognises.
   */
  private void readsAsGathers(Graph loopBody) {
    for (Node r : loopBody.allNodes()) {
      if (!Calls.isTf(r, "TensorListGetItem") || Calls.output(r, 0) == null) continue;
      Value list = Calls.skipIdentity(r.input(0));
      Node from = list == null ? null : list.producer();
      if (!Calls.isTf(from, "TensorListFromTensor") || from.graph() != g) continue;
      OnnxBuilder b = new OnnxBuilder(r.graph(), opset, r.tfName(), r.tfName());
      Value x = b.gather(from.input(0), r.input(1), 0);
      x.setDtype(r.typeAttr("element_dtype"));
      r.graph().replaceAllUses(r.output(0), x);
      r.graph().removeNode(r);
    }
  }

  /**
   * TF's {@code maximum_iterations}: {@code while_v2} passes it as a loop constant and conditions on
   * {@code LogicalAnd(Less(loop_counter, maximum_iterations), ...)}, the counter from 0 by 1. That is ONNX Loop's trip
   * count (clamped at 0: TF runs no iteration for a negative bound); the condition stays as it is, so this only tells
   * ONNX the bound (and gives the loop the form a TF 1 loop with {@code maximum_iterations} gets).
   */
  private Value maxTripCount(Value pred) {
    Value p = Calls.skipIdentity(pred);
    if (p == null || !Calls.isTf(p.producer(), "LogicalAnd")) return null;
    for (Value in : p.producer().inputs()) {
      Value less = Calls.skipIdentity(in);
      if (less == null || !Calls.isTf(less.producer(), "Less")) continue;
      int counter = cond.inputs().indexOf(Calls.skipIdentity(less.producer().input(0)));
      int bound = cond.inputs().indexOf(Calls.skipIdentity(less.producer().input(1)));
      if (counter < 0 || bound < 0 || kinds.get(bound) != Kind.CONSTANT || kinds.get(counter) != Kind.CARRIED) continue;
      if (!isIterationNumber(bodyIns.get(counter))) continue;
      Value max = inits.get(bound);
      OnnxBuilder b = new OnnxBuilder(g, opset, call.tfName() + "/maximum_iterations", call.tfName());
      return b.op("Max", b.cast(max, DType.INT64), b.scalarLong(0));
    }
    return null;
  }

  private void replaceArg(Value arg, Value by) {
    g.replaceAllUses(arg, by);
    replacedArgs.put(arg, by);
  }

  /** What the body returns for variable {@code k} (a body argument it returns is what replaced that argument). */
  private Value next(int k) {
    return replacedArgs.getOrDefault(bodyOuts.get(k), bodyOuts.get(k));
  }

  /** The loop-variable shapes TF gives ({@code output_shapes}, else the body's argument hints). */
  private Shape[] shapes() {
    Shape[] s = new Shape[n];
    List<Shape> given = call.attr("output_shapes") instanceof Attr.Shapes sh ? sh.values() : List.of();
    for (int k = 0; k < n; k++) s[k] = k < given.size() ? given.get(k) : bodyIns.get(k).shape();
    return s;
  }

  /**
   * Variable {@code k} is a TensorList written at the iteration number: its initial value is a
   * {@code TensorListReserve}, the body's only use of it is one {@code TensorListSetItem} at a counter, whose result
   * is what the body returns; the condition does not read it.
   */
  private void findScan(int k) {
    Value init = Calls.skipIdentity(inits.get(k));
    if (init == null || !Calls.isTf(init.producer(), "TensorListReserve")) return;
    Value next = Calls.skipIdentity(bodyOuts.get(k));
    Node w = next == null ? null : next.producer();
    if (!Calls.isTf(w, "TensorListSetItem") || Calls.skipIdentity(w.input(0)) != bodyIns.get(k)) return;
    if (!onlyUsedBy(bodyIns.get(k), w) || cond.inputs().get(k).useCount() > 0) return;
    if (!isIterationNumber(Calls.skipIdentity(w.input(1)))) return;
    kinds.set(k, Kind.SCAN);
    writes.put(k, w);
  }

  private static boolean onlyUsedBy(Value v, Node user) {
    for (Value.Use u : v.uses()) {
      Node x = u.node();
      if (x == user) continue;
      if (Calls.isTf(x, "Identity") && onlyUsedBy(x.output(0), user)) continue;
      return false;
    }
    return true;
  }

  /** {@code v} is the body's view of a variable that starts at 0 and grows by 1 per iteration. */
  private boolean isIterationNumber(Value v) {
    int j = bodyIns.indexOf(v);
    if (j < 0) return false;
    Tensor init = inits.get(j).constant();
    if (init == null || init.size() != 1 || init.getLong(0) != 0) return false;
    Value next = Calls.skipIdentity(bodyOuts.get(j));
    Node add = next == null ? null : next.producer();
    if (!Calls.isTf(add, "AddV2", "Add")) return false;
    for (int i = 0; i < 2; i++) {
      Tensor one = add.input(1 - i).constant();
      if (Calls.skipIdentity(add.input(i)) == v && one != null && one.size() == 1 && one.getLong(0) == 1) return true;
    }
    return false;
  }

  /** Every TensorList variable must be a loop constant or a scan; a list carried otherwise has no ONNX form here. */
  private void checkSupported() {
    List<String> bad = new ArrayList<>();
    for (int k = 0; k < n; k++) {
      if (kinds.get(k) == Kind.CARRIED && (types.get(k) == DType.VARIANT || types.get(k) == DType.RESOURCE)) {
        bad.add(k + " (" + bodyIns.get(k).name() + ")");
      }
    }
    if (!bad.isEmpty()) {
      throw Calls.error(call, "loop variable" + (bad.size() == 1 ? " " : "s ") + String.join(", ", bad) + " of body "
          + fn(body) + " " + (bad.size() == 1 ? "is a TensorList or resource" : "are TensorLists or resources")
          + " changed by the loop in another way than one TensorListSetItem per iteration at the iteration number, "
          + "on a list from TensorListReserve; only such lists (scan outputs) and lists the body only reads are supported");
    }
  }

  /**
   * The list after the loop: the scan output {@code [iterations, element...]}, then zeros up to the reserved size
   * ({@code TensorListReserve}'s {@code num_elements}; more iterations than that keep them all, as TF grows the list).
   */
  private Value padded(Value scan, int k, String scope) {
    Node reserve = Calls.skipIdentity(inits.get(k)).producer();
    OnnxBuilder b = new OnnxBuilder(g, opset, scope, call.tfName());
    Value shape = b.shapeOf(scan);
    Value iterations = b.slice(shape, new long[] {0}, new long[] {1}, new long[] {0}, null);
    Value rest = b.slice(shape, new long[] {1}, new long[] {Long.MAX_VALUE}, new long[] {0}, null);
    Value size = b.unsqueeze(b.cast(reserve.input(1), DType.INT64), 0);
    Value missing = b.op("Max", b.op("Sub", size, iterations), b.constLongs(0));
    DType t = writes.get(k).typeAttr("element_dtype");
    Tensor zero = t.isFloating() ? Tensor.fromDoubles(t, new long[] {1}, new double[] {0})
        : Tensor.fromLongs(t, new long[] {1}, new long[] {0});
    Value zeros = b.op("ConstantOfShape", List.of(b.concat(List.of(missing, rest), 0)), Attrs.of("value", zero));
    return b.concat(List.of(scan, zeros), 0);
  }
}
