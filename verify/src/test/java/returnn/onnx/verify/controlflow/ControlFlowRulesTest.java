package returnn.onnx.verify.controlflow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.GraphDef;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.loops.LoopOps;
import returnn.onnx.fixtures.loops.TensorArrayOps;
import returnn.onnx.fixtures.loops.TfCond;
import returnn.onnx.fixtures.loops.WhileLoop;
import returnn.onnx.verify.OpParity;

/**
 * The control-flow rules on small TF1 graphs, each run by TensorFlow and, converted, by ONNX Runtime: nested loops,
 * conditionals (several outputs, nested, inside a loop), the trip count from {@code maximum_iterations}, and the errors
 * for loop shapes that cannot be converted.
 */
class ControlFlowRulesTest {
  /** Outer loop over the columns of x; an inner loop adds 0.5·column n times (n fed, possibly 0). */
  private static GraphDef nestedLoops() {
    GraphDefBuilder b = new GraphDefBuilder();
    LoopOps ops = new LoopOps(b);
    String x = b.placeholder("x", DType.FLOAT, -1, -1).name();
    String n = b.placeholder("n", DType.INT32).name();
    String cols = ops.transpose(x, 1, 0);
    String time = ops.index(ops.shape(x), 1);
    String acc0 = ops.fillLike("acc", x, Tensor.scalarFloat(0f));
    String i0 = ops.constant("i", Tensor.ofInts(new long[0], 0));
    WhileLoop outer = WhileLoop.start(b, "outer", 10, null, List.of(i0, acc0), null);
    LoopOps lo = ops.in(outer);
    List<String> v = outer.condition(lo.compare("Less", outer.vars().get(0), outer.capture(time, "Less")));
    String col = b.op("GatherV2", "GatherV2", outer.capture(cols, "GatherV2"), v.get(0),
        lo.constant("GatherV2/axis", Tensor.ofInts(new long[0], 0))).attr("Tparams", DType.FLOAT)
        .attr("Tindices", DType.INT32).attr("Taxis", DType.INT32).attr("batch_dims", 0L).outType(DType.FLOAT).name();
    WhileLoop inner = WhileLoop.start(b, "inner", 10, null, List.of(lo.constant("j", Tensor.ofInts(new long[0], 0)),
        col), outer);
    LoopOps li = ops.in(inner);
    List<String> w = inner.condition(li.compare("Less", inner.vars().get(0), inner.capture(n, "Less")));
    String s = li.binary("AddV2", "add", w.get(1), li.withScalar("Mul", "mul", inner.capture(col, "mul"), 0.5));
    List<String> innerExits = inner.finish(List.of(inner.add(w.get(0), 1), s));
    String acc = lo.binary("AddV2", "add", v.get(1), innerExits.get(1));
    List<String> exits = outer.finish(List.of(outer.add(v.get(0), 1), acc));
    ops.identity("y", exits.get(1));
    return b.build();
  }

  @Test
  void nestedLoopsBecomeNestedLoops() {
    GraphDef g = nestedLoops();
    for (int n : new int[] {0, 3}) {
      OpParity.Result r = OpParity.check(g, Map.of("x", OpParity.normal(1, 3, 4), "n", Tensor.ofInts(new long[0], n)), "y");
      assertEquals(2, r.count("Loop"));
      Node outer = loopNodes(r.converted().graph()).get(0);
      assertEquals(1, body(outer).count("Loop"), "the inner loop is inside the outer body");
      assertEquals(List.of(), ControlFlowStructure.problems(r.converted().graph()));
    }
    OpParity.check(g, Map.of("x", OpParity.normal(2, 2, 0), "n", Tensor.ofInts(new long[0], 2)), "y");
  }

  /** tf.cond with two results: (2x, x+1) if flag else (-x, x). */
  @Test
  void conditionalWithTwoResultsBecomesOneIf() {
    GraphDefBuilder b = new GraphDefBuilder();
    LoopOps ops = new LoopOps(b);
    String x = b.placeholder("x", DType.FLOAT, -1, 3).name();
    String flag = b.placeholder("flag", DType.BOOL).name();
    TfCond c = new TfCond(b, "cond", flag);
    String xt = c.capture(x, 1, "mul");
    String t1 = ops.binary("Mul", "mul", xt, c.constant(1, "mul/y", Tensor.scalarFloat(2f)));
    String t2 = ops.binary("AddV2", "add", xt, c.constant(1, "add/y", Tensor.scalarFloat(1f)));
    String xf = c.capture(x, 0, "Neg");
    List<String> y = c.merge(List.of(ops.unary("Neg", "Neg", xf), c.capture(x, 0, "")), List.of(t1, t2));
    ops.identity("y0", y.get(0));
    ops.identity("y1", y.get(1));
    for (boolean f : new boolean[] {true, false}) {
      OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(3, 2, 3), "flag",
          Tensor.ofBools(new long[0], f)), "y0", "y1");
      assertEquals(1, r.count("If"));
      assertEquals(List.of(), ControlFlowStructure.problems(r.converted().graph()));
    }
  }

  /** A conditional in the true branch of another: the inner one becomes an If inside the outer If's then-branch. */
  @Test
  void nestedConditionals() {
    GraphDefBuilder b = new GraphDefBuilder();
    LoopOps ops = new LoopOps(b);
    String x = b.placeholder("x", DType.FLOAT, 4).name();
    String p = b.placeholder("p", DType.BOOL).name();
    String q = b.placeholder("q", DType.BOOL).name();
    TfCond outer = new TfCond(b, "cond", p);
    TfCond inner = new TfCond(b, "cond", outer.capture(q, 1, "cond"));
    String it = ops.unary("Tanh", "Tanh", inner.capture(outer.capture(x, 1, "cond/Tanh"), 1, "Tanh"));
    String ie = ops.unary("Sigmoid", "Sigmoid", inner.capture(outer.capture(x, 1, "cond/Tanh"), 0, "Sigmoid"));
    String innerY = inner.merge(ie, it);
    String y = outer.merge(ops.unary("Neg", "Neg", outer.capture(x, 0, "Neg")), ops.unary("Exp", "Exp", innerY));
    ops.identity("y", y);
    for (boolean[] pq : new boolean[][] {{true, true}, {true, false}, {false, true}}) {
      OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(4, 4), "p", Tensor.ofBools(new long[0], pq[0]),
          "q", Tensor.ofBools(new long[0], pq[1])), "y");
      assertEquals(2, r.count("If"));
      Node top = r.converted().graph().nodes().stream().filter(n -> n.isOnnx("If")).findFirst().orElseThrow();
      assertEquals(1, ((Attr.GraphVal) top.attr("then_branch")).value().count("If"));
    }
  }

  /** acc = acc + x if i < 2 else acc · 0.5, for i < 4: a conditional in a loop body becomes an If in the Loop body. */
  @Test
  void conditionalInsideLoop() {
    GraphDefBuilder b = new GraphDefBuilder();
    LoopOps ops = new LoopOps(b);
    String x = b.placeholder("x", DType.FLOAT, 3).name();
    WhileLoop w = WhileLoop.start(b, "while", 10, null, List.of(ops.constant("i", Tensor.ofInts(new long[0], 0)), x), null);
    LoopOps lo = ops.in(w);
    List<String> v = w.condition(lo.compare("Less", w.vars().get(0), lo.constant("Less/y", Tensor.ofInts(new long[0], 4))));
    String pred = lo.compare("Less", v.get(0), lo.constant("Less_1/y", Tensor.ofInts(new long[0], 2)));
    TfCond c = new TfCond(b, "cond", pred);
    String t = lo.binary("AddV2", "add", c.capture(v.get(1), 1, "add"), c.capture(w.capture(x, "cond/add"), 1, "add"));
    String f = lo.withScalar("Mul", "mul", c.capture(v.get(1), 0, "mul"), 0.5);
    String acc = c.merge(f, t);
    List<String> exits = w.finish(List.of(w.add(v.get(0), 1), acc));
    ops.identity("y", exits.get(1));
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(5, 3)), "y");
    assertEquals(1, r.count("Loop"));
    assertEquals(1, body(loopNodes(r.converted().graph()).get(0)).count("If"));
  }

  /** TF's maximum_iterations (counter from 0, Less against the bound) becomes the Loop's trip count input M. */
  @Test
  void maximumIterationsBecomesTheTripCount() {
    GraphDefBuilder b = new GraphDefBuilder();
    LoopOps ops = new LoopOps(b);
    String x = b.placeholder("x", DType.FLOAT, 2).name();
    String max = b.placeholder("max", DType.INT32).name();
    WhileLoop w = WhileLoop.start(b, "while", 10, max, List.of(x), null);
    LoopOps lo = ops.in(w);
    List<String> v = w.condition(lo.compare("Less", lo.reduce("Sum", "Sum", w.vars().get(0), false, 0),
        lo.constant("Less/y", Tensor.scalarFloat(100f))));
    List<String> exits = w.finish(List.of(lo.withScalar("Mul", "mul", v.get(0), 1.5)));
    ops.identity("y", exits.get(0));
    for (int m : new int[] {-1, 0, 2, 50}) {
      OpParity.Result r = OpParity.check(b.build(), Map.of("x", Tensor.ofFloats(new long[] {2}, 1f, 2f), "max",
          Tensor.ofInts(new long[0], m)), "y");
      assertNotNull(loopNodes(r.converted().graph()).get(0).input(0), "trip count from maximum_iterations");
    }
  }

  /** A loop writing a TensorArray at n-1-i (not the iteration number) fails naming the frame and the write. */
  @Test
  void writeAtAnotherIndexFailsNamingFrameAndNode() {
    ConversionException e = assertThrows(ConversionException.class,
        () -> OpParity.convert(arrayLoop(true, false), List.of("y"), 17));
    assertTrue(e.getMessage().contains("while loop frame 'while/while_context'"), e.getMessage());
    assertTrue(e.getMessage().contains("'while/TensorArrayWrite/TensorArrayWriteV3' (TensorArrayWriteV3)"), e.getMessage());
    assertTrue(e.getMessage().contains("not the iteration number"), e.getMessage());
  }

  @Test
  void readingTheArrayBeingWrittenFailsNamingFrameAndNode() {
    ConversionException e = assertThrows(ConversionException.class,
        () -> OpParity.convert(arrayLoop(false, true), List.of("y"), 17));
    assertTrue(e.getMessage().contains("while loop frame 'while/while_context'"), e.getMessage());
    assertTrue(e.getMessage().contains("(TensorArraySizeV3) uses a TensorArray the loop is writing"), e.getMessage());
  }

  @Test
  void theSameLoopWritingAtTheIterationNumberConverts() {
    OpParity.Result r = OpParity.check(arrayLoop(false, false), Map.of("x", OpParity.normal(7, 4, 2)), "y");
    assertEquals(1, r.count("Loop"));
  }

  /** for i < n: write x[i]·2 at i (or at n-1-i); optionally also read the written array's size inside. */
  private static GraphDef arrayLoop(boolean reversedIndex, boolean sizeInside) {
    GraphDefBuilder b = new GraphDefBuilder();
    LoopOps ops = new LoopOps(b);
    TensorArrayOps tas = new TensorArrayOps(b);
    String x = b.placeholder("x", DType.FLOAT, -1, 2).name();
    String n = ops.index(ops.shape(x), 0);
    TensorArrayOps.Array in = tas.unstack(tas.create(n, DType.FLOAT, new long[] {2}, "in", false), x);
    TensorArrayOps.Array out = tas.create(n, DType.FLOAT, new long[] {2}, "out", false);
    WhileLoop w = WhileLoop.start(b, "while", 10, null, List.of(ops.constant("i", Tensor.ofInts(new long[0], 0)),
        out.flow()), null);
    LoopOps lo = ops.in(w);
    List<String> v = w.condition(lo.compare("Less", w.vars().get(0), w.capture(n, "Less")));
    String value = lo.withScalar("Mul", "mul", tas.read(w, in, v.get(0)), 2);
    String index = reversedIndex
        ? lo.binary("Sub", "sub", lo.withScalar("Sub", "sub", w.capture(n, "sub"), 1), v.get(0)) : v.get(0);
    if (sizeInside) {
      value = lo.binary("Mul", "mul", value, lo.cast(b.op("TensorArraySizeV3", "TensorArraySizeV3",
          w.capture(out.handle(), "TensorArraySizeV3"), v.get(1)).outType(DType.INT32).name(), DType.FLOAT));
    }
    String flow = tas.write(w, out, v.get(1), index, value);
    List<String> exits = w.finish(List.of(w.add(v.get(0), 1), flow));
    ops.identity("y", tas.stack(out, exits.get(1)));
    return b.build();
  }

  /**
   * RETURNN's search shape in small: a loop writes its steps into a TensorArray, a second loop counts down over that
   * array, reading it by the first loop's Exit flow (entered as a loop constant) and writing at the count-down index.
   * Both loops become Loops, the read a Gather of the first Loop's scan output inside the second body.
   */
  @Test
  void aLaterLoopReadsTheArrayAnEarlierLoopWroteCountingDown() {
    for (int skip : new int[] {0, 2}) {
      GraphDef g = twoLoops(skip);
      for (int n : new int[] {5, 3, 1}) {
        OpParity.Result r = OpParity.check(g, Map.of("x", OpParity.normal(11 + n, n, 2)), "y", "size");
        assertEquals(2, r.count("Loop"));
        assertEquals(List.of(), ControlFlowStructure.problems(r.converted().graph()));
        Node second = loopNodes(r.converted().graph()).get(1);
        assertTrue(body(second).nodes().stream().anyMatch(x -> x.isOnnx("Gather") && x.input(0).producer() != null
            && x.input(0).producer().graph() != body(second)), "the second body gathers from an outer value");
      }
    }
  }

  /** A count-down write must step by exactly 1: the counter decremented by 2 fails naming the frame and the write. */
  @Test
  void countDownByTwoFailsNamingFrameAndNode() {
    ConversionException e = assertThrows(ConversionException.class,
        () -> OpParity.convert(twoLoops(0, 2), List.of("y"), 17));
    assertTrue(e.getMessage().contains("while loop frame 'back/while_context'"), e.getMessage());
    assertTrue(e.getMessage().contains("'back/TensorArrayWrite/TensorArrayWriteV3' (TensorArrayWriteV3)"), e.getMessage());
    assertTrue(e.getMessage().contains("not the iteration number"), e.getMessage());
  }

  private static GraphDef twoLoops(int skip) {
    return twoLoops(skip, 1);
  }

  /**
   * {@code fwd}: for i < n write x[i]·2 at i into a dynamic_size array {@code steps}. {@code back}: for j from
   * {@code size(steps) - 1 - skip} while j >= 0 (step {@code -down}): acc += steps[j], write acc at j into a fixed-size
   * array of size(steps) (elements above the start stay zeros). y: that array stacked; size: size(steps).
   */
  private static GraphDef twoLoops(int skip, int down) {
    GraphDefBuilder b = new GraphDefBuilder();
    LoopOps ops = new LoopOps(b);
    TensorArrayOps tas = new TensorArrayOps(b);
    String x = b.placeholder("x", DType.FLOAT, -1, 2).name();
    String n = ops.index(ops.shape(x), 0);
    TensorArrayOps.Array in = tas.unstack(tas.create(n, DType.FLOAT, new long[] {2}, "in", false), x);
    TensorArrayOps.Array steps = tas.create(ops.constant("steps/size", Tensor.ofInts(new long[0], 0)), DType.FLOAT,
        new long[] {2}, "steps", true);
    WhileLoop w = WhileLoop.start(b, "fwd", 10, null, List.of(ops.constant("i", Tensor.ofInts(new long[0], 0)),
        steps.flow()), null);
    LoopOps lo = ops.in(w);
    List<String> v = w.condition(lo.compare("Less", w.vars().get(0), w.capture(n, "Less")));
    String flow = tas.write(w, steps, v.get(1), v.get(0), lo.withScalar("Mul", "mul", tas.read(w, in, v.get(0)), 2));
    List<String> exits = w.finish(List.of(w.add(v.get(0), 1), flow));
    TensorArrayOps.Array written = new TensorArrayOps.Array(steps.handle(), exits.get(1), DType.FLOAT, new long[] {2});
    String size = tas.size(steps, exits.get(1));
    ops.identity("size", size);
    String start = ops.withScalar("Sub", "sub", size, 1 + skip);
    TensorArrayOps.Array out = tas.create(size, DType.FLOAT, new long[] {2}, "resolved", false);
    String acc0 = ops.zeros(ops.constant("one", Tensor.ofInts(new long[0], 1)), 2, DType.FLOAT);
    acc0 = b.op("Reshape", "Reshape", acc0, ops.constant("two", Tensor.ofInts(new long[] {1}, 2))).attr("T", DType.FLOAT)
        .attr("Tshape", DType.INT32).outType(DType.FLOAT).name();
    WhileLoop back = WhileLoop.start(b, "back", 10, null, List.of(start, acc0, out.flow()), null);
    LoopOps bo = ops.in(back);
    List<String> u = back.condition(bo.compare("GreaterEqual", back.vars().get(0),
        bo.constant("GreaterEqual/y", Tensor.ofInts(new long[0], 0))));
    String acc = bo.binary("AddV2", "add", u.get(1), tas.read(back, written, u.get(0)));
    String outFlow = tas.write(back, out, u.get(2), u.get(0), acc);
    List<String> backExits = back.finish(List.of(bo.withScalar("Sub", "sub", u.get(0), down), acc, outFlow));
    ops.identity("y", tas.stack(out, backExits.get(2)));
    return b.build();
  }

  /**
   * Branches of constants only ({@code tf.cond(flag, lambda: (1., [2, 3]), lambda: (0., -x))}): TF ties a branch's
   * Consts to it by a control edge on its pivot alone, and they still become one If, equal to TF for either flag (the
   * two flags give different numbers, so a wrong branch fails).
   */
  @Test
  void conditionalOfConstantsBecomesAnIf() {
    GraphDefBuilder b = new GraphDefBuilder();
    LoopOps ops = new LoopOps(b);
    String x = b.placeholder("x", DType.FLOAT, 2).name();
    String flag = b.placeholder("flag", DType.BOOL).name();
    TfCond c = new TfCond(b, "cond", flag);
    List<String> y = c.merge(List.of(c.constant(0, "zero", Tensor.scalarFloat(0f)), ops.unary("Neg", "Neg", c.capture(x, 0, "Neg"))),
        List.of(c.constant(1, "one", Tensor.scalarFloat(1f)), c.constant(1, "two_three", Tensor.ofFloats(new long[] {2}, 2f, 3f))));
    ops.identity("y0", y.get(0));
    ops.identity("y1", y.get(1));
    GraphDef g = b.build();
    for (boolean f : new boolean[] {true, false}) {
      OpParity.Result r = OpParity.check(g, Map.of("x", OpParity.normal(3, 2), "flag", Tensor.ofBools(new long[0], f)), "y0", "y1");
      assertEquals(1, r.count("If"), r.converted().graph().opHistogram().toString());
      assertEquals(f ? 1f : 0f, r.tf().get("y0").toFloats()[0]);
      assertEquals(List.of(), ControlFlowStructure.problems(r.converted().graph()));
    }
    // Both branches constants only: nothing but the pivots ties either to the flag.
    GraphDefBuilder b2 = new GraphDefBuilder();
    String flag2 = b2.placeholder("flag", DType.BOOL).name();
    TfCond c2 = new TfCond(b2, "cond", flag2);
    new LoopOps(b2).identity("y", c2.merge(c2.constant(0, "zero", Tensor.scalarFloat(0f)), c2.constant(1, "one", Tensor.scalarFloat(1f))));
    for (boolean f : new boolean[] {true, false}) {
      OpParity.Result r = OpParity.check(b2.build(), Map.of("flag", Tensor.ofBools(new long[0], f)), "y");
      assertEquals(1, r.count("If"));
      assertEquals(f ? 1f : 0f, r.tf().get("y").toFloats()[0]);
    }
  }

  /**
   * Two conditionals on one predicate in sequence (as dropout layers on {@code train_flag}), the second switching the
   * first's result, each with its own {@code pred_id}; the second has a branch of constants only. Two Ifs, not one If
   * reading its own output.
   */
  @Test
  void sequentialConditionalsOnOnePredicateStayApart() {
    GraphDefBuilder b = new GraphDefBuilder();
    LoopOps ops = new LoopOps(b);
    String x = b.placeholder("x", DType.FLOAT, 2).name();
    String flag = b.placeholder("flag", DType.BOOL).name();
    TfCond c1 = new TfCond(b, "cond", flag);
    String y1 = c1.merge(ops.unary("Neg", "Neg", c1.capture(x, 0, "Neg")), ops.unary("Tanh", "Tanh", c1.capture(x, 1, "Tanh")));
    TfCond c2 = new TfCond(b, "cond_1", flag);
    String t2 = ops.binary("Mul", "mul", c2.capture(y1, 1, "mul"), c2.constant(1, "mul/y", Tensor.scalarFloat(3f)));
    String y2 = c2.merge(c2.constant(0, "zero", Tensor.ofFloats(new long[] {2}, 0f, 0f)), t2);
    ops.identity("y", y2);
    for (boolean f : new boolean[] {true, false}) {
      OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(4, 2), "flag", Tensor.ofBools(new long[0], f)), "y");
      assertEquals(2, r.count("If"), r.converted().graph().opHistogram().toString());
      assertEquals(List.of(), ControlFlowStructure.problems(r.converted().graph()));
    }
  }

  /** acc += (1 if i < 2 else -1) · x for i < 4: a conditional of constants inside a loop body, an If in the Loop body. */
  @Test
  void conditionalOfConstantsInsideLoop() {
    GraphDefBuilder b = new GraphDefBuilder();
    LoopOps ops = new LoopOps(b);
    String x = b.placeholder("x", DType.FLOAT, 3).name();
    WhileLoop w = WhileLoop.start(b, "while", 10, null, List.of(ops.constant("i", Tensor.ofInts(new long[0], 0)), x), null);
    LoopOps lo = ops.in(w);
    List<String> v = w.condition(lo.compare("Less", w.vars().get(0), lo.constant("Less/y", Tensor.ofInts(new long[0], 4))));
    String pred = lo.compare("Less", v.get(0), lo.constant("Less_1/y", Tensor.ofInts(new long[0], 2)));
    TfCond c = new TfCond(b, "cond", pred);
    String sign = c.merge(c.constant(0, "minus", Tensor.scalarFloat(-1f)), c.constant(1, "plus", Tensor.scalarFloat(1f)));
    String acc = lo.binary("AddV2", "add", v.get(1), lo.binary("Mul", "mul", w.capture(x, "mul"), sign));
    List<String> exits = w.finish(List.of(w.add(v.get(0), 1), acc));
    ops.identity("y", exits.get(1));
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", Tensor.ofFloats(new long[] {3}, 1f, 2f, -3f)), "y");
    assertEquals(1, r.count("Loop"));
    assertEquals(1, body(loopNodes(r.converted().graph()).get(0)).count("If"));
    assertEquals(1f, r.tf().get("y").toFloats()[0], "1 + 1 + 1 - 1 - 1");
  }

  /** No control flow: the rules leave the graph alone and report nothing. */
  @Test
  void graphsWithoutControlFlowAreUntouched() {
    GraphDefBuilder b = new GraphDefBuilder();
    String x = b.placeholder("x", DType.FLOAT, 2).name();
    new LoopOps(b).identity("y", new LoopOps(b).unary("Tanh", "Tanh", x));
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(9, 2)), "y");
    assertNull(r.converted().report().rulesFired.get("ControlFlowRules.WHILE_LOOPS"));
    assertNull(r.converted().report().rulesFired.get("ControlFlowRules.CONDITIONALS"));
  }

  static List<Node> loopNodes(Graph g) {
    return g.nodes().stream().filter(n -> n.isOnnx("Loop")).toList();
  }

  static Graph body(Node loop) {
    return ((Attr.GraphVal) loop.attr("body")).value();
  }
}
