package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.TfOps;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * verify on graphs whose placeholders TF does not fully shape: it takes what the model declares (convert's
 * {@code --inputs} fixed it there) and accepts {@code --inputs} itself; with neither, one error line says so.
 */
class VerifyInputsTest {
  @TempDir Path dir;

  /** x (unknown rank, or [?, ?, ?]) · w [4, 2] → Tanh "y": the last dim must be 4 for TF to run it. */
  private Path graph(boolean unknownRank) throws Exception {
    GraphDefBuilder b = new GraphDefBuilder();
    TfOps tf = new TfOps(b);
    String x = unknownRank ? b.placeholder("x", DType.FLOAT, (long[]) null).name()
        : b.placeholder("x", DType.FLOAT, -1, -1, -1).name();
    String w = tf.constant("w", Tensor.ofFloats(new long[] {4, 2}, 0.5f, -1, 2, 0.25f, -0.5f, 1, 1.5f, -2));
    String m = b.op("BatchMatMulV2", "m", x, tf.reshape(w, 1, 4, 2)).attr("T", DType.FLOAT).attr("adj_x", false)
        .attr("adj_y", false).outType(DType.FLOAT).name();
    b.op("Tanh", "y", m).attr("T", DType.FLOAT).outType(DType.FLOAT);
    Path pb = dir.resolve(unknownRank ? "u.pb" : "d.pb");
    Files.write(pb, b.build().toByteArray());
    return pb;
  }

  private Path convert(Path pb, String inputs) {
    Path onnx = dir.resolve(pb.getFileName() + ".onnx");
    CliRunner.Run r = CliRunner.run("convert", "--graph", pb.toString(), "--outputs", "y", "--inputs", inputs,
        "--output", onnx.toString());
    assertEquals(0, r.exit(), r.err() + r.out());
    return onnx;
  }

  @Test
  void shapesComeFromTheModelWhereTfDoesNotKnowThem() throws Exception {
    for (boolean unknownRank : new boolean[] {true, false}) {
      Path pb = graph(unknownRank);
      Path onnx = convert(pb, "x:-1x-1x4");
      CliRunner.Run v = CliRunner.run("verify", "--graph", pb.toString(), "--onnx", onnx.toString(), "--batch", "2",
          "--time", "5");
      assertEquals(0, v.exit(), v.out() + v.err());
      assertTrue(v.out().contains("  x float[2, 5, 4]"), v.out());
      assertTrue(v.out().contains("verify: PASS"), v.out());
    }
  }

  @Test
  void verifyInputsSetsTheShape() throws Exception {
    Path pb = graph(true);
    Path onnx = convert(pb, "x:-1x-1x4");
    CliRunner.Run v = CliRunner.run("verify", "--graph", pb.toString(), "--onnx", onnx.toString(), "--inputs", "x:3x7x4");
    assertEquals(0, v.exit(), v.out() + v.err());
    assertTrue(v.out().contains("  x float[3, 7, 4]"), v.out());
    // --inputs naming no input of the model: one error line.
    CliRunner.Run bad = CliRunner.run("verify", "--graph", pb.toString(), "--onnx", onnx.toString(), "--inputs", "y:3");
    assertEquals(1, bad.exit(), bad.out());
    assertTrue(bad.err().startsWith("error: ") && bad.err().contains("--inputs names [y], not inputs of the model"),
        bad.err());
    assertEquals(1, bad.err().lines().filter(l -> !l.isBlank()).count(), bad.err());
  }

  /** Unknown rank in TF and in the model (converted without --inputs): verify asks for --inputs, in one line. */
  @Test
  void unknownRankEverywhereAsksForInputs() throws Exception {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("u", DType.FLOAT, (long[]) null);
    b.op("Tanh", "y", "u").attr("T", DType.FLOAT).outType(DType.FLOAT);
    Path pb = dir.resolve("t.pb");
    Files.write(pb, b.build().toByteArray());
    Path onnx = dir.resolve("t.onnx");
    assertEquals(0, CliRunner.run("convert", "--graph", pb.toString(), "--output", onnx.toString()).exit());
    CliRunner.Run v = CliRunner.run("verify", "--graph", pb.toString(), "--onnx", onnx.toString());
    assertEquals(1, v.exit(), v.out());
    assertTrue(v.err().startsWith("error: ") && v.err().contains("give its shape with --inputs u:"), v.err());
    assertFalse(v.err().contains("\tat "), v.err());
    CliRunner.Run ok = CliRunner.run("verify", "--graph", pb.toString(), "--onnx", onnx.toString(), "--inputs", "u:2x3x1x2");
    assertEquals(0, ok.exit(), ok.out() + ok.err());
    assertTrue(ok.out().contains("  u float[2, 3, 1, 2]") && ok.out().contains("verify: PASS"), ok.out());
  }
}
