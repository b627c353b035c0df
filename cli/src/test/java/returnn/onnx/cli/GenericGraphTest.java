package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.TfOps;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.loops.LoopFixtures;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.Verifier;

/** Graphs that are not RETURNN's: no {@code output/output_batch_major}, outputs found as the graph's sinks. */
class GenericGraphTest {
  @TempDir
  Path dir;

  private static Tensor normal(long seed, long... shape) {
    Random r = new Random(seed);
    float[] v = new float[(int) Tensor.count(shape)];
    for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
    return Tensor.ofFloats(shape, v);
  }

  /**
   * x [?, 3] → MatMul → Tanh "y", plus what frozen graphs carry besides: a constant-only branch nobody reads and an
   * unused placeholder-free Identity, which are no outputs. With {@code second}, another sink "z" = x + 1.
   */
  private Path graph(boolean second, boolean unsupported) throws Exception {
    GraphDefBuilder b = new GraphDefBuilder();
    TfOps tf = new TfOps(b);
    String x = b.placeholder("x", DType.FLOAT, -1, 3).name();
    String w = tf.constant("w", normal(1, 3, 4));
    String h = tf.matMul(x, w);
    b.op("Tanh", "y", h).attr("T", DType.FLOAT).outType(DType.FLOAT);
    tf.identity("unused_const_branch", tf.constant("c", normal(2, 2)));
    if (second) {
      String z = tf.add(x, tf.scalarFloat("one", 1f));
      if (unsupported) {
        b.op("MatrixInverse", "z", b.op("MatMul", "zz", z, z).attr("T", DType.FLOAT).attr("transpose_a", true)
            .attr("transpose_b", false).outType(DType.FLOAT).name()).attr("T", DType.FLOAT).attr("adjoint", false)
            .outType(DType.FLOAT);
      } else {
        tf.identity("z", z);
      }
    }
    Path pb = dir.resolve(second ? "two.pb" : "one.pb");
    Files.write(pb, b.build().toByteArray());
    return pb;
  }

  @Test
  void convertTakesTheOnlySinkAndSaysSo() throws Exception {
    Path pb = graph(false, false);
    Path onnx = dir.resolve("one.onnx");
    CliRunner.Run r = CliRunner.run("convert", "--graph", pb.toString(), "--output", onnx.toString());
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("note: no 'output/output_batch_major' in the graph; its only sink 'y' is the output"), r.out());
    Verifier.Report rep = Verifier.verify(new Verifier.Options(pb, null, onnx, List.of("y"),
        Map.of("x", normal(3, 5, 3)), 1, 3, 7, 1e-5));
    assertTrue(rep.ok(), rep.format());
  }

  @Test
  void convertListsTheSinksWhenThereAreSeveral() throws Exception {
    Path pb = graph(true, false);
    CliRunner.Run r = CliRunner.run("convert", "--graph", pb.toString(), "--output", dir.resolve("two.onnx").toString());
    assertEquals(1, r.exit(), r.out());
    assertTrue(r.err().contains("error: ") && r.err().contains("2 sinks: y, z"), r.err());
    assertEquals(1, r.err().lines().filter(l -> !l.isBlank()).count(), r.err());
    assertFalse(r.err().contains("\tat "), r.err());
    assertFalse(Files.exists(dir.resolve("two.onnx")));
  }

  @Test
  void inspectListsSinksAndCountsWhatTheyNeed() throws Exception {
    CliRunner.Run r = CliRunner.run("inspect", graph(true, true).toString());
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("  y (sink)") && r.out().contains("  z (sink)"), r.out());
    assertFalse(r.out().contains("unused_const_branch (sink)"), r.out());
    assertTrue(r.out().contains("unsupported ops: {MatrixInverse=1}"), r.out());
    assertTrue(r.out().lines().anyMatch(l -> l.matches("  Tanh +1 / 1 +")), r.out());
  }

  @Test
  void inspectCallsNoHandledControlFlowOpUnsupported() {
    FixtureWriter.Written w = LoopFixtures.vanillaLstm(VariableKind.TF1, false).write(dir, GraphFormat.META);
    CliRunner.Run r = CliRunner.run("inspect", w.graph().toString());
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().lines().anyMatch(l -> l.startsWith("  Enter ")), r.out());
    assertFalse(r.out().lines()
        .anyMatch(l -> l.matches("  (Enter|Exit|Merge|Switch|LoopCond|NextIteration|TensorArray\\w+) .*unsupported.*")), r.out());
    assertTrue(r.out().contains("unsupported ops: none"), r.out());
  }
}
