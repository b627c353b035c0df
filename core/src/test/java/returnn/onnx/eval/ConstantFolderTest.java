package returnn.onnx.eval;

import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

class ConstantFolderTest {
  @Test
  void foldsShapeArithmeticToConstants() {
    Graph g = new Graph("g");
    OnnxBuilder b = new OnnxBuilder(g, 17, "t", "t");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(2, 5, 3));
    Value shape = b.shapeOf(x);
    assertTrue(shape.isConstant(), "Shape of a static shape folds");
    Value dim1 = b.gather(shape, b.scalarLong(1), 0);
    Value target = b.concat(List.of(b.constLongs(-1), b.unsqueeze(dim1, 0)), 0);
    assertArrayEquals(new long[] {-1, 5}, target.constant().toLongs());
    assertEquals(0, g.nodes().size(), "nothing was emitted");
  }

  @Test
  void castOfWhatOnnxLeavesUndefinedIsNotFolded() {
    // NaN, infinities and out-of-range values to an integer type: Java gives 0 / saturates, ONNX Runtime something
    // else (INT_MIN on x86): left to the runtime, so that folded and unfolded models agree.
    for (double[] v : List.of(new double[] {Double.NaN, 1.5}, new double[] {Double.POSITIVE_INFINITY}, new double[] {3e9})) {
      Tensor x = Tensor.fromDoubles(DType.FLOAT, new long[] {v.length}, v);
      assertNull(ConstantFolder.fold("Cast", List.of(x), Attrs.of("to", DType.INT32), 17), java.util.Arrays.toString(v));
    }
    Tensor big = Tensor.fromDoubles(DType.DOUBLE, new long[] {1}, new double[] {1e19});
    assertNull(ConstantFolder.fold("Cast", List.of(big), Attrs.of("to", DType.INT64), 17));
    Tensor ok = Tensor.fromDoubles(DType.FLOAT, new long[] {3}, new double[] {-1.9, 2.9, 2147483520.0});
    assertArrayEquals(new long[] {-1, 2, 2147483520L}, ConstantFolder.fold("Cast", List.of(ok), Attrs.of("to", DType.INT32), 17).get(0).toLongs());
    Tensor nan = Tensor.fromDoubles(DType.FLOAT, new long[] {1}, new double[] {Double.NaN});
    assertArrayEquals(new long[] {1}, ConstantFolder.fold("Cast", List.of(nan), Attrs.of("to", DType.BOOL), 17).get(0).toLongs(),
        "NaN to bool is defined (true)");
  }

  @Test
  void integerModIsFloorModAndDivTruncates() {
    Tensor a = Tensor.ofInts(new long[] {2}, -7, 7);
    Tensor d = Tensor.ofInts(new long[] {2}, 2, -2);
    assertArrayEquals(new long[] {1, -1}, ConstantFolder.fold("Mod", List.of(a, d), Map.of(), 17).get(0).toLongs());
    assertArrayEquals(new long[] {-3, -3}, ConstantFolder.fold("Div", List.of(a, d), Map.of(), 17).get(0).toLongs());
  }

  @Test
  void transposeReshapeSliceGather() {
    Tensor x = Tensor.ofFloats(new long[] {2, 3}, 0, 1, 2, 3, 4, 5);
    Tensor t = ConstantFolder.fold("Transpose", List.of(x), Attrs.of("perm", new long[] {1, 0}), 17).get(0);
    assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5}, t.toFloats());
    Tensor s = ConstantFolder.fold("Slice", List.of(x, Tensor.vectorLongs(-1), Tensor.vectorLongs(Long.MIN_VALUE),
        Tensor.vectorLongs(1), Tensor.vectorLongs(-1)), Map.of(), 17).get(0);
    assertArrayEquals(new float[] {2, 1, 0, 5, 4, 3}, s.toFloats());
    Tensor r = ConstantFolder.fold("Reshape", List.of(x, Tensor.vectorLongs(0, -1)), Map.of(), 17).get(0);
    assertArrayEquals(new long[] {2, 3}, r.shape());
    Tensor gth = ConstantFolder.fold("Gather", List.of(x, Tensor.vectorLongs(2, 0)), Attrs.of("axis", 1), 17).get(0);
    assertArrayEquals(new float[] {2, 0, 5, 3}, gth.toFloats());
  }

  @Test
  void castFollowsOnnxRules() {
    Tensor x = Tensor.ofFloats(new long[] {3}, -1.7f, 2.9f, Float.NaN);
    // NaN to int32 is undefined in ONNX: not folded (castOfWhatOnnxLeavesUndefinedIsNotFolded); the rest truncates.
    assertNull(ConstantFolder.fold("Cast", List.of(x), Attrs.of("to", DType.INT32), 17));
    Tensor finite = Tensor.ofFloats(new long[] {2}, -1.7f, 2.9f);
    assertArrayEquals(new long[] {-1, 2}, ConstantFolder.fold("Cast", List.of(finite), Attrs.of("to", DType.INT32), 17).get(0).toLongs());
    assertArrayEquals(new long[] {1, 1, 1}, ConstantFolder.fold("Cast", List.of(x), Attrs.of("to", DType.BOOL), 17).get(0).toLongs());
  }

  @Test
  void declinesWhatItCannotEvaluate() {
    assertNull(ConstantFolder.fold("Reshape", List.of(Tensor.ofFloats(new long[] {4}, 1, 2, 3, 4), Tensor.vectorLongs(3)), Map.of(), 17));
  }
}
