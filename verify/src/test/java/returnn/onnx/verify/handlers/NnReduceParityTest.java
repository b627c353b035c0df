package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.ConversionException;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

class NnReduceParityTest {
  private static final List<String> NUMERIC = List.of("Sum", "Mean", "Max", "Min", "Prod");

  /** Axes variants: vector, negative, several, scalar, empty (TF: identity), int64; each with keep_dims both ways. */
  private static Map<String, Tensor> axesVariants() {
    Map<String, Tensor> m = new java.util.LinkedHashMap<>();
    m.put("a1", Tensor.ofInts(new long[] {1}, 1));
    m.put("aneg", Tensor.ofInts(new long[] {1}, -1));
    m.put("a02", Tensor.ofInts(new long[] {2}, 0, -1));
    m.put("ascalar", Tensor.ofInts(new long[0], 1));
    m.put("aempty", Tensor.ofInts(new long[] {0}));
    m.put("a64", Tensor.ofLongs(new long[] {2}, 2, 1));
    return m;
  }

  private static List<String> addReductions(GraphDefBuilder b, String x, DType t, List<String> ops) {
    List<String> outs = new ArrayList<>();
    for (Map.Entry<String, Tensor> a : axesVariants().entrySet()) {
      if (!b.has(a.getKey())) b.constant(a.getKey(), a.getValue());
      for (String op : ops) {
        for (boolean keep : new boolean[] {false, true}) {
          String n = op + "_" + x + "_" + a.getKey() + (keep ? "_keep" : "");
          GraphDefBuilder.Node node = b.op(op, n, x, a.getKey()).attr("keep_dims", keep)
              .attr("Tidx", a.getValue().dtype());
          if (t != DType.BOOL) node.attr("T", t);
          outs.add(n);
        }
      }
    }
    return outs;
  }

  @Test
  void floatReductionsWithConstantAxesAcrossOpsets() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3, 4);
    List<String> outs = addReductions(b, "x", DType.FLOAT, NUMERIC);
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(1, 2, 3, 4));
    for (int opset : new int[] {13, 17, 18, 23}) {
      OpParity.Result r = OpParity.check(b.build(), feeds, outs, OpParity.TOL, opset);
      if (opset == 17) assertEquals(10, r.count("ReduceSum"), "12 Sum nodes, of which the 2 with empty axes are identities");
    }
  }

  /** TF's integer Mean truncates toward zero (-7/2 = -3); int Sum/Max/Min/Prod are exact. */
  @Test
  void integerReductionsAndTruncatingMean() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("i", DType.INT32, -1, 3, 4);
    b.placeholder("l", DType.INT64, 2, -1, 4);
    List<String> outs = new ArrayList<>(addReductions(b, "i", DType.INT32, NUMERIC));
    outs.addAll(addReductions(b, "l", DType.INT64, List.of("Mean", "Sum")));
    Map<String, Tensor> feeds = Map.of("i", OpParity.ints(1, -9, 9, 2, 3, 4), "l", OpParity.longs(2, -50, 40, 2, 3, 4));
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 18);
  }

  @Test
  void allAndAnyOnBools() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.BOOL, -1, 3, 4);
    List<String> outs = addReductions(b, "x", DType.BOOL, List.of("All", "Any"));
    Map<String, Tensor> feeds = Map.of("x", OpParity.bools(1, 2, 3, 4));
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 13);
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 18);
  }

  /** Run-time axes: input-form reductions with noop_with_empty_axes=1 (empty = identity, as in TF). */
  @Test
  void runTimeAxesNeedOpset18ExceptForSum() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 3, 4);
    b.placeholder("i", DType.INT32, 2, 3, 4);
    b.placeholder("t", DType.BOOL, 2, 3, 4);
    b.placeholder("axes", DType.INT32, -1);
    List<String> outs = new ArrayList<>();
    for (String op : NUMERIC) {
      b.op(op, op, "x", "axes").attr("T", DType.FLOAT).attr("Tidx", DType.INT32);
      outs.add(op);
    }
    b.op("Mean", "imean", "i", "axes").attr("T", DType.INT32).attr("Tidx", DType.INT32).attr("keep_dims", true);
    b.op("Any", "any", "t", "axes").attr("Tidx", DType.INT32);
    outs.addAll(List.of("imean", "any"));
    Map<String, Tensor> feeds = new HashMap<>(Map.of("x", OpParity.normal(1, 2, 3, 4),
        "i", OpParity.ints(2, -9, 9, 2, 3, 4), "t", OpParity.bools(3, 2, 3, 4)));
    for (Tensor axes : List.of(Tensor.ofInts(new long[] {2}, 0, -1), Tensor.ofInts(new long[] {0}))) {
      feeds.put("axes", axes);
      OpParity.check(b.build(), feeds, outs, OpParity.TOL, 18);
      OpParity.check(b.build(), feeds, List.of("Sum", "imean"), OpParity.TOL, 13);
    }
    ConversionException e = assertThrows(ConversionException.class, () -> OpParity.convert(b.build(), List.of("Max"), 17));
    assertTrue(e.getMessage().contains("opset 18"), e.getMessage());
  }

  /**
   * Any/All over run-time axes below opset 18 count with ReduceSum (axes an input from 13): the same as TF at 13, 17
   * and 18, for several axes, one negative axis and empty axes (identity), with keep_dims both ways. Rows with every
   * value true, none true and some true, so Any and All differ from each other and from a constant.
   */
  @Test
  void anyAndAllOverRunTimeAxesBeforeOpset18() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("t", DType.BOOL, -1, 3, 4);
    b.placeholder("axes", DType.INT32, -1);
    List<String> outs = new ArrayList<>();
    for (String op : List.of("Any", "All")) {
      for (boolean keep : new boolean[] {false, true}) {
        String n = op + (keep ? "_keep" : "");
        b.op(op, n, "t", "axes").attr("Tidx", DType.INT32).attr("keep_dims", keep);
        outs.add(n);
      }
    }
    boolean[] v = new boolean[24];
    for (int i = 0; i < 24; i++) v[i] = i < 4 || i >= 12 && i % 3 == 0;
    Map<String, Tensor> feeds = new HashMap<>(Map.of("t", Tensor.ofBools(new long[] {2, 3, 4}, v)));
    for (Tensor axes : List.of(Tensor.ofInts(new long[] {1}, -1), Tensor.ofInts(new long[] {2}, 0, 2),
        Tensor.ofInts(new long[] {0}))) {
      feeds.put("axes", axes);
      for (int opset : new int[] {13, 17, 18}) {
        OpParity.Result r = OpParity.check(b.build(), feeds, outs, OpParity.TOL, opset);
        assertEquals(opset < 18 ? 0 : 2, r.count("ReduceMax"), r.converted().graph().opHistogram().toString());
        if (opset < 18) assertEquals(4, r.count("ReduceSum"), r.converted().graph().opHistogram().toString());
      }
    }
    OpParity.Result last = OpParity.check(b.build(), Map.of("t", feeds.get("t"), "axes", Tensor.ofInts(new long[] {1}, -1)),
        List.of("Any", "All"), OpParity.TOL, 13);
    assertEquals("[1, 0, 0, 1, 1, 1]", java.util.Arrays.toString(last.tf().get("Any").toLongs()));
    assertEquals("[1, 0, 0, 0, 0, 0]", java.util.Arrays.toString(last.tf().get("All").toLongs()));
  }

  /** Small integer ranges make ties: TF and ONNX (select_last_index=0) both return the first index. */
  @Test
  void argMaxArgMinTiesOutputTypesAndAxes() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 4, 5);
    b.placeholder("i", DType.INT32, -1, 4, 5);
    b.placeholder("t", DType.BOOL, 3, 5);
    b.constant("d1", Tensor.ofInts(new long[0], 1));
    b.constant("dneg", Tensor.ofLongs(new long[0], -1));
    List<String> outs = new ArrayList<>();
    for (String op : List.of("ArgMax", "ArgMin")) {
      for (String x : List.of("x", "i")) {
        DType t = x.equals("x") ? DType.FLOAT : DType.INT32;
        b.op(op, op + x + "_d1", x, "d1").attr("T", t).attr("Tidx", DType.INT32);
        b.op(op, op + x + "_neg32", x, "dneg").attr("T", t).attr("Tidx", DType.INT64).attr("output_type", DType.INT32);
        outs.addAll(List.of(op + x + "_d1", op + x + "_neg32"));
      }
      b.op(op, op + "_bool", "t", "dneg").attr("T", DType.BOOL).attr("Tidx", DType.INT64);
      outs.add(op + "_bool");
    }
    OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 4, 5), "i", OpParity.ints(2, 0, 3, 2, 4, 5),
        "t", OpParity.bools(3, 3, 5)), outs, OpParity.TOL, 17);
  }

  @Test
  void topKV2WithConstantAndRunTimeK() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3, 6);
    b.placeholder("i", DType.INT32, 4, 6);
    b.placeholder("k", DType.INT32);
    b.constant("k3", Tensor.ofInts(new long[0], 3));
    b.op("TopKV2", "top", "x", "k3").attr("T", DType.FLOAT);
    b.op("TopKV2", "topk_rt", "x", "k").attr("T", DType.FLOAT);
    b.op("TopKV2", "top64", "i", "k3").attr("T", DType.INT32).attr("index_type", DType.INT64);
    List<String> outs = List.of("top", "top:1", "topk_rt", "topk_rt:1", "top64", "top64:1");
    Map<String, Tensor> feeds = Map.of("x", OpParity.normal(1, 2, 3, 6), "i", OpParity.ints(2, -1000, 1000, 4, 6),
        "k", Tensor.ofInts(new long[0], 4));
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 13);
    OpParity.check(b.build(), feeds, outs, OpParity.TOL, 17);
  }

  @Test
  void cumsumExclusiveReverseAndAxes() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 4, 3);
    b.placeholder("i", DType.INT32, 2, 5);
    b.placeholder("axis", DType.INT32);
    b.constant("a1", Tensor.ofInts(new long[0], 1));
    b.constant("aneg", Tensor.ofLongs(new long[0], -1));
    List<String> outs = new ArrayList<>();
    for (boolean excl : new boolean[] {false, true}) {
      for (boolean rev : new boolean[] {false, true}) {
        String s = (excl ? "_excl" : "") + (rev ? "_rev" : "");
        b.op("Cumsum", "c1" + s, "x", "a1").attr("T", DType.FLOAT).attr("exclusive", excl).attr("reverse", rev);
        b.op("Cumsum", "cneg" + s, "x", "aneg").attr("T", DType.FLOAT).attr("Tidx", DType.INT64)
            .attr("exclusive", excl).attr("reverse", rev);
        b.op("Cumsum", "ci" + s, "i", "axis").attr("T", DType.INT32).attr("exclusive", excl).attr("reverse", rev);
        outs.addAll(List.of("c1" + s, "cneg" + s, "ci" + s));
      }
    }
    OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 4, 3), "i", OpParity.ints(2, -9, 9, 2, 5),
        "axis", Tensor.ofInts(new long[0], 1)), outs, OpParity.TOL, 17);
  }
}
