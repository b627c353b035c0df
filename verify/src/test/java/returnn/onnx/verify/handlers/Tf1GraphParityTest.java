package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.VersionDef;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.verify.OpParity;

/** Graphs as other TF1 versions and users write them: early producers, unknown ranks, generic graphs. */
class Tf1GraphParityTest {
  private static GraphDefBuilder producer(int version) {
    return GraphDefBuilder.of(GraphDef.newBuilder().setVersions(VersionDef.newBuilder().setProducer(version)).build());
  }

  private static Value input(OpParity.Result r, String name) {
    return r.converted().graph().inputs().stream().filter(v -> v.name().equals(name)).findFirst().orElseThrow();
  }

  /** TF 1.0-era graphs (producer 21) store {@code shape {}} for a placeholder of unknown shape: TF feeds any rank. */
  @Test
  void earlyProducerScalarPlaceholderShapeIsUnknown() {
    GraphDefBuilder b = producer(21);
    b.placeholder("x", DType.FLOAT);
    b.constant("perm", Tensor.ofInts(new long[] {3}, 1, 0, 2));
    b.op("Transpose", "t", "x", "perm").attr("T", DType.FLOAT).attr("Tperm", DType.INT32);
    b.op("Tanh", "y", "t").attr("T", DType.FLOAT);
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 2, 3, 4)), "y");
    assertFalse(input(r, "x").shape().hasRank(), "x should have unknown rank: " + input(r, "x"));
    assertEquals(3, r.tf().get("y").shape().length);
  }

  /** From producer 22 on, {@code shape {}} is a scalar (and a {@code PlaceholderWithDefault} always is). */
  @Test
  void laterProducerScalarPlaceholderStaysScalar() {
    GraphDefBuilder b = producer(22);
    b.placeholder("x", DType.FLOAT);
    b.op("Tanh", "y", "x").attr("T", DType.FLOAT);
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", Tensor.ofFloats(new long[0], 0.5f)), "y");
    assertTrue(input(r, "x").shape().hasRank());
    assertEquals(0, input(r, "x").shape().rank());
  }
}
