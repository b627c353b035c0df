package returnn.onnx.verify.handlers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.VersionDef;
import java.nio.file.Files;
import java.nio.file.Path;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.TfOps;
import returnn.onnx.verify.OnnxChecker;
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

  private static Value output(OpParity.Result r, String name) {
    return r.converted().graph().outputs().stream().filter(v -> v.name().equals(name)).findFirst().orElseThrow();
  }

  private static String checker(OpParity.Result r) throws Exception {
    Path f = Files.createTempFile("tf1graph", ".onnx");
    try {
      Files.write(f, r.converted().toBytes());
      return OnnxChecker.check(f);
    } finally {
      Files.delete(f);
    }
  }

  /**
   * A dropout mask as TF1 writes it ({@code RandomUniform(Shape(x))}, then {@code x * Floor(keep + rnd) / keep}) and a
   * RandomUniform of a fed shape vector [3]: TF knows their ranks (the length of the shape input), so the outputs have
   * a shape field and the ONNX checker accepts the model. Floor(keep + rnd) with keep = 1 is 1 whatever the numbers
   * are, so TF and ONNX Runtime agree exactly.
   */
  @Test
  void randomUniformHasTheRankOfItsShapeInput() throws Exception {
    GraphDefBuilder b = new GraphDefBuilder();
    TfOps tf = new TfOps(b);
    String x = b.placeholder("x", DType.FLOAT, -1, 5).name();
    String dims = b.placeholder("dims", DType.INT32, 3).name();
    String rnd = b.op("RandomUniform", "dropout/random_uniform", tf.shape(x)).attr("T", DType.INT32)
        .attr("dtype", DType.FLOAT).attr("seed", 0L).attr("seed2", 0L).outType(DType.FLOAT).name();
    String keep = b.op("Floor", "dropout/Floor", tf.add(tf.scalarFloat("dropout/keep_prob", 1f), rnd))
        .attr("T", DType.FLOAT).outType(DType.FLOAT).name();
    tf.identity("y", tf.mul(x, keep));
    String r3 = b.op("RandomUniform", "r3", dims).attr("T", DType.INT32).attr("dtype", DType.FLOAT)
        .attr("seed", 0L).attr("seed2", 0L).outType(DType.FLOAT).name();
    b.op("Floor", "z", r3).attr("T", DType.FLOAT).outType(DType.FLOAT);
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(1, 3, 5),
        "dims", Tensor.ofInts(new long[] {3}, 2, 1, 4)), List.of("y", "z"), OpParity.TOL, 17);
    assertEquals(2, output(r, "y").shape().rank(), output(r, "y").toString());
    assertEquals(3, output(r, "z").shape().rank(), output(r, "z").toString());
    assertEquals(null, checker(r));
    assertTrue(r.converted().report().format().contains("z:float[?, ?, ?]"), r.converted().report().format());
  }

  /** BlockLSTM left as a Loop (cell_clip): every output is [T, B, n] in TF, so in the model too. */
  @Test
  void blockLstmLoopOutputsHaveRankThree() throws Exception {
    int n = 4;
    GraphDefBuilder b = new GraphDefBuilder();
    TfOps tf = new TfOps(b);
    String x = b.placeholder("x", DType.FLOAT, -1, -1, 3).name();
    String h0 = b.placeholder("h0", DType.FLOAT, -1, n).name();
    String len = b.placeholder("seq_len_max", DType.INT64).name();
    String w = tf.constant("w", OpParity.uniform(1, -0.5f, 0.5f, 3 + n, 4 * n));
    String bias = tf.constant("b", OpParity.uniform(2, -0.5f, 0.5f, 4 * n));
    String p = tf.constant("p", Tensor.ofFloats(new long[] {n}, new float[n]));
    GraphDefBuilder.Node block = b.op("BlockLSTM", "lstm", len, x, h0, h0, w, p, p, p, bias).attr("T", DType.FLOAT)
        .attr("cell_clip", 0.3f).attr("use_peephole", false).attr("forget_bias", 1f);
    for (int i = 0; i < 7; i++) block.outType(i, DType.FLOAT);
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(3, 5, 2, 3), "h0",
        OpParity.normal(4, 2, n), "seq_len_max", Tensor.ofLongs(new long[0], 4L)), List.of("lstm:1", "lstm:6"),
        OpParity.TOL, 17);
    assertEquals(1, r.count("Loop"));
    for (String o : List.of("lstm:1", "lstm:6")) {
      assertEquals(3, output(r, o).shape().rank(), output(r, o).toString());
      assertEquals(n, output(r, o).shape().dim(2).value(), output(r, o).toString());
    }
    assertEquals(null, checker(r));
  }

  /** Where the rank is not known (a placeholder of unknown shape), the report says {@code ?rank}, not [?]. */
  @Test
  void unknownRankIsPrintedAsSuch() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("u", DType.FLOAT, (long[]) null);
    b.op("Tanh", "y", "u").attr("T", DType.FLOAT);
    OpParity.Result r = OpParity.check(b.build(), Map.of("u", OpParity.normal(1, 2, 3)), "y");
    String report = r.converted().report().format();
    assertTrue(report.contains("u:float ?rank") && report.contains("y:float ?rank"), report);
    assertFalse(report.contains("[?]"), report);
  }

  /**
   * A SavedModel written from such a graph (its only sink the default output) declares the placeholder with unknown
   * rank in its signature, and converting it gives a model that runs a rank-3 input as TF does.
   */
  @Test
  void earlyProducerPlaceholderThroughSavedModel() throws Exception {
    GraphDefBuilder b = producer(21);
    b.placeholder("x", DType.FLOAT);
    b.op("Tanh", "y", "x").attr("T", DType.FLOAT);
    GraphDef g = b.build();
    Path dir = Files.createTempDirectory("tf1sm");
    Path pb = dir.resolve("graph.pb");
    Files.write(pb, g.toByteArray());
    Path sm = dir.resolve("saved");
    returnn.onnx.tf.savedmodel.SavedModelExporter.Result r = returnn.onnx.tf.savedmodel.SavedModelExporter.export(
        new returnn.onnx.tf.savedmodel.SavedModelExporter.Options(pb, null, List.of(), sm));
    assertTrue(r.inputs().get("x").getTensorShape().getUnknownRank(), r.inputs().toString());
    returnn.onnx.Converter.Result conv = returnn.onnx.Converter.convert(returnn.onnx.ConvertOptions.of(sm, null, List.of()));
    Tensor x = OpParity.normal(2, 2, 3, 4);
    Tensor onnx = OpParity.runOnnx(conv, Map.of("x", x)).get("y");
    Tensor tf = returnn.onnx.reference.TfReference.run(g, null, Map.of("x", x), List.of("y")).get("y");
    assertTrue(returnn.onnx.verify.Comparison.of("y", tf, onnx).ok(OpParity.TOL, DType.FLOAT));
    assertEquals(3, onnx.shape().length);
  }
}
