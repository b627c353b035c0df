package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.verify.OpParity;

class NnMatMulParityTest {
  @Test
  void matMulTransposesWithDynamicRowsAndConstantWeights() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3);
    b.placeholder("xt", DType.FLOAT, 3, -1);
    b.placeholder("y", DType.FLOAT, 3, 4);
    b.constant("w", OpParity.normal(7, 3, 4));
    b.constant("wt", OpParity.normal(8, 4, 3));
    b.op("MatMul", "plain", "x", "y").attr("T", DType.FLOAT);
    b.op("MatMul", "ta", "xt", "y").attr("T", DType.FLOAT).attr("transpose_a", true);
    b.op("MatMul", "both", "xt", "wt").attr("T", DType.FLOAT).attr("transpose_a", true).attr("transpose_b", true);
    b.op("MatMul", "tb_const", "x", "wt").attr("T", DType.FLOAT).attr("transpose_b", true);
    b.op("MatMul", "const", "x", "w").attr("T", DType.FLOAT);
    Map<String, returnn.onnx.ir.Tensor> feeds = Map.of("x", OpParity.normal(1, 5, 3), "xt", OpParity.normal(2, 3, 5),
        "y", OpParity.normal(3, 3, 4));
    OpParity.check(b.build(), feeds, "plain", "ta", "both", "tb_const", "const");
    OpParity.Result r = OpParity.check(b.build(), feeds, "tb_const");
    assertEquals(0, r.count("Transpose"), "a transposed constant weight is folded");
    assertEquals(1, r.count("MatMul"));
  }

  @Test
  void matMulOnInt32() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.INT32, 2, 3);
    b.placeholder("y", DType.INT32, 2, 4);
    b.op("MatMul", "m", "x", "y").attr("T", DType.INT32).attr("transpose_a", true);
    OpParity.check(b.build(), Map.of("x", OpParity.ints(1, -5, 5, 2, 3), "y", OpParity.ints(2, -5, 5, 2, 4)), "m");
  }

  @Test
  void batchMatMulV2BroadcastsBatchDimsWithAdjoints() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 1, 3, 4);
    b.placeholder("y", DType.FLOAT, 1, 5, 4, 2);
    b.placeholder("xa", DType.FLOAT, 2, 1, 4, 3);
    b.placeholder("ya", DType.FLOAT, -1, 5, 2, 4);
    b.op("BatchMatMulV2", "p", "x", "y").attr("T", DType.FLOAT);
    b.op("BatchMatMulV2", "ax", "xa", "y").attr("T", DType.FLOAT).attr("adj_x", true);
    b.op("BatchMatMulV2", "ay", "x", "ya").attr("T", DType.FLOAT).attr("adj_y", true);
    b.op("BatchMatMulV2", "axy", "xa", "ya").attr("T", DType.FLOAT).attr("adj_x", true).attr("adj_y", true);
    b.op("BatchMatMulV3", "v3", "xa", "ya").attr("Ta", DType.FLOAT).attr("Tb", DType.FLOAT).attr("Tout", DType.FLOAT)
        .attr("adj_x", true).attr("adj_y", true);
    OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 1, 3, 4), "y", OpParity.normal(2, 1, 5, 4, 2),
        "xa", OpParity.normal(3, 2, 1, 4, 3), "ya", OpParity.normal(4, 1, 5, 2, 4)), "p", "ax", "ay", "axy", "v3");
  }

  @Test
  void batchMatMulV1WithDynamicBatchAndRank3() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, -1, 3);
    b.placeholder("y", DType.FLOAT, -1, 4, 3);
    b.op("BatchMatMul", "m", "x", "y").attr("T", DType.FLOAT).attr("adj_y", true);
    OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 5, 3), "y", OpParity.normal(2, 2, 4, 3)), "m");
  }

  @Test
  void biasAddOnLastAxisAndOnAxisOneForNchw() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3, 4);
    b.placeholder("x4", DType.FLOAT, 2, 3, 2, 4);
    b.placeholder("xi", DType.INT32, -1, 3);
    b.constant("b4", OpParity.normal(5, 4));
    b.constant("b3", OpParity.normal(6, 3));
    b.constant("bi", returnn.onnx.ir.Tensor.ofInts(new long[] {3}, 1, -2, 7));
    b.op("BiasAdd", "nhwc", "x", "b4").attr("T", DType.FLOAT);
    b.op("BiasAdd", "nchw", "x4", "b3").attr("T", DType.FLOAT).attr("data_format", "NCHW");
    b.op("BiasAdd", "nchw3", "x", "b3").attr("T", DType.FLOAT).attr("data_format", "NCHW");
    b.op("BiasAddV1", "v1", "x", "b4").attr("T", DType.FLOAT);
    b.op("BiasAdd", "ints", "xi", "bi").attr("T", DType.INT32);
    OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 3, 4), "x4", OpParity.normal(2, 2, 3, 2, 4),
        "xi", OpParity.ints(3, -9, 9, 2, 3)), "nhwc", "nchw", "nchw3", "v1", "ints");
  }

  @Test
  void einsumEquations() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 3, 4);
    b.placeholder("y", DType.FLOAT, -1, 4, 5);
    b.placeholder("m", DType.FLOAT, 3, 4);
    b.op("Einsum", "bmm", "x", "y").attr("T", DType.FLOAT).attr("N", 2L).attr("equation", "bij,bjk->bik");
    b.op("Einsum", "tr", "m").attr("T", DType.FLOAT).attr("N", 1L).attr("equation", "ij->ji");
    b.op("Einsum", "ell", "x", "m").attr("T", DType.FLOAT).attr("N", 2L).attr("equation", "...ij,ij->...i");
    b.op("Einsum", "sum", "x").attr("T", DType.FLOAT).attr("N", 1L).attr("equation", "bij->j");
    OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 3, 4), "y", OpParity.normal(2, 2, 4, 5),
        "m", OpParity.normal(3, 3, 4)), List.of("bmm", "tr", "ell", "sum"), OpParity.TOL, 17);
  }
}
