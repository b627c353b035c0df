package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfCheckpointWriter;

/** Bad input: one clear error naming the file/node, exit code 1, and no model file left behind. */
class BadInputTest {
  @TempDir
  Path dir;
  Fixture fixture;
  FixtureWriter.Written written;
  Path onnx;

  @BeforeEach
  void setUp() {
    fixture = Fixtures.linearSoftmax(VariableKind.RESOURCE);
    written = fixture.write(dir, GraphFormat.META);
    onnx = dir.resolve("out/model.onnx");
  }

  CliRunner.Run convert(Path graph, Path ckpt, String... extra) {
    String[] base = {"convert", "--graph", graph.toString(), "--checkpoint", ckpt.toString(), "--output", onnx.toString()};
    String[] all = new String[base.length + extra.length];
    System.arraycopy(base, 0, all, 0, base.length);
    System.arraycopy(extra, 0, all, base.length, extra.length);
    return CliRunner.run(all);
  }

  void assertFailsCleanly(CliRunner.Run r, String... fragments) {
    assertEquals(1, r.exit(), r.out() + r.err());
    assertTrue(r.err().startsWith("error: "), r.err());
    for (String f : fragments) assertTrue(r.err().contains(f), "expected '" + f + "' in: " + r.err());
    assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    assertFalse(Files.exists(onnx), "no model file is left behind");
  }

  @Test
  void corruptedCheckpointDataIsAChecksumError() throws Exception {
    Path data = Path.of(written.checkpointPrefix() + ".data-00000-of-00001");
    try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
      f.seek(f.length() / 2);
      int b = f.read();
      f.seek(f.length() / 2);
      f.write(b ^ 0x5a);
    }
    assertFailsCleanly(convert(written.graph(), written.checkpointPrefix()), "checksum", data.getFileName().toString());
  }

  @Test
  void truncatedCheckpointIndexIsNamed() throws Exception {
    Path index = Path.of(written.checkpointPrefix() + ".index");
    byte[] b = Files.readAllBytes(index);
    Files.write(index, java.util.Arrays.copyOf(b, b.length / 2));
    assertFailsCleanly(convert(written.graph(), written.checkpointPrefix()), index.getFileName().toString());
  }

  @Test
  void missingVariableIsNamed() {
    Path other = dir.resolve("other/network.030");
    TfCheckpointWriter.write(other, Map.of("global_step", Tensor.scalarLong(3), "output/W", fixture.checkpoint().get("output/W")));
    assertFailsCleanly(convert(written.graph(), other), "output/b", "missing from checkpoint");
  }

  @Test
  void variableOfAnotherShapeIsNamed() {
    Path other = dir.resolve("other/network.030");
    Map<String, Tensor> ck = new java.util.LinkedHashMap<>(fixture.checkpoint());
    ck.put("output/b", Tensor.ofFloats(new long[] {1}, 0f));
    TfCheckpointWriter.write(other, ck);
    assertFailsCleanly(convert(written.graph(), other), "output/b", "shape");
  }

  @Test
  void malformedProtobufIsNamed() throws Exception {
    Path bad = dir.resolve("bad.pb");
    Files.write(bad, new byte[] {0x0a, (byte) 0xff, (byte) 0xff, 0x01, 0x02});
    assertFailsCleanly(convert(bad, written.checkpointPrefix()), "bad.pb", "malformed protobuf");
    Path badText = dir.resolve("bad.pbtxt");
    Files.writeString(badText, "node { name: \"x\" op: ");
    assertFailsCleanly(convert(badText, written.checkpointPrefix()), "bad.pbtxt", "malformed text protobuf");
  }

  @Test
  void unknownOutputSuggestsNames() {
    assertFailsCleanly(convert(written.graph(), written.checkpointPrefix(), "--outputs", "output/output_batch_majr"),
        "unknown output 'output/output_batch_majr'", "did you mean", "output/output_batch_major");
  }

  @Test
  void unsupportedOpsAreAllListedAtOnce() throws Exception {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 3);
    // TwoDLSTM: a RETURNN custom op with no conversion (NativeLstm2 has one now).
    b.op("TwoDLSTM", "lstm0_fw/rec/TwoDLSTM", "x");
    b.op("TwoDLSTM", "lstm0_bw/rec/TwoDLSTM", "x");
    b.op("FancyOp", "fancy", "lstm0_fw/rec/TwoDLSTM", "lstm0_bw/rec/TwoDLSTM");
    b.op("Identity", "output/output_batch_major", "fancy").attr("T", DType.FLOAT);
    Path g = dir.resolve("custom.pbtxt");
    Files.writeString(g, com.google.protobuf.TextFormat.printer().printToString(b.build()));
    CliRunner.Run r = CliRunner.run("convert", "--graph", g.toString(), "--output", onnx.toString());
    assertFailsCleanly(r, "3 nodes of 2 unsupported op types", "TwoDLSTM x2: lstm0_fw/rec/TwoDLSTM, lstm0_bw/rec/TwoDLSTM",
        "FancyOp x1: fancy");
  }

  @Test
  void unknownDtypeIsNamed() throws Exception {
    String text = "node { name: \"x\" op: \"Placeholder\" attr { key: \"dtype\" value { type: DT_COMPLEX64 } } }\n"
        + "node { name: \"output/output_batch_major\" op: \"Identity\" input: \"x\" attr { key: \"T\" value { type: DT_COMPLEX64 } } }\n";
    Path g = dir.resolve("complex.pbtxt");
    Files.writeString(g, text);
    assertFailsCleanly(CliRunner.run("convert", "--graph", g.toString(), "--output", onnx.toString()), "'x'", "dtype");
  }

  @Test
  void existingModelIsNotClobberedByAFailedConversion() throws Exception {
    Files.createDirectories(onnx.getParent());
    Files.writeString(onnx, "previous");
    CliRunner.Run r = convert(written.graph(), written.checkpointPrefix(), "--outputs", "nope");
    assertEquals(1, r.exit());
    assertEquals("previous", Files.readString(onnx));
  }
}
