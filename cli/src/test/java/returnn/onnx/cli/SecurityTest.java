package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
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
import returnn.onnx.runtime.Npy;

/**
 * Hostile input, as an attacker would write it: TF node names that climb out of {@code run --output-dir}, ONNX
 * external data pointing at files outside the model's folder, and {@code --output} paths that are FIFOs, devices,
 * symbolic links or the command's own inputs. Each is refused with one error line before anything is written.
 */
class SecurityTest {
  @TempDir
  Path dir;

  static void assertRefused(CliRunner.Run r, String... fragments) {
    assertEquals(1, r.exit(), r.out() + r.err());
    assertTrue(r.err().startsWith("error: "), r.err());
    assertEquals(1, r.err().lines().count(), "one error line: " + r.err());
    for (String f : fragments) assertTrue(r.err().contains(f), "expected '" + f + "' in: " + r.err());
  }

  /** Every path under {@code d} (files, directories, links), for "nothing was written" checks. */
  static List<Path> tree(Path d) throws IOException {
    try (Stream<Path> s = Files.walk(d)) {
      return s.sorted().toList();
    }
  }

  /** A graph whose outputs are Identity nodes of the given (hostile) names, converted to ONNX. */
  private Path modelWithOutputs(String... names) throws IOException {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2);
    for (String n : names) b.opExact("Identity", n, "x").attr("T", DType.FLOAT);
    Path g = dir.resolve("hostile.pbtxt");
    Files.writeString(g, com.google.protobuf.TextFormat.printer().printToString(b.build()));
    Path onnx = dir.resolve("models/hostile.onnx");
    CliRunner.Run r = CliRunner.run("convert", "--graph", g.toString(), "--outputs", String.join(",", names), "--output", onnx.toString());
    assertEquals(0, r.exit(), "the names pass through convert unchanged: " + r.out() + r.err());
    return onnx;
  }

  private CliRunner.Run run(Path onnx, Path outDir) throws IOException {
    Path x = dir.resolve("x.npy");
    Npy.write(x, Tensor.ofFloats(new long[] {2}, 1f, 2f));
    return CliRunner.run("run", "--onnx", onnx.toString(), "--input", "x=" + x, "--output-dir", outDir.toString());
  }

  @Test
  void runRefusesOutputNamesThatClimbOutOfTheOutputDir() throws IOException {
    // A legitimate output first: it must not be written either, the check comes before any write.
    Path onnx = modelWithOutputs("fine/out", "../../escaped");
    Path outDir = dir.resolve("a/b/out");
    List<Path> before = tree(dir);
    CliRunner.Run r = run(onnx, outDir);
    assertRefused(r, "output '../../escaped'", "'..'", "must stay inside");
    assertFalse(Files.exists(dir.resolve("a/escaped.npy")), "nothing outside --output-dir");
    assertFalse(Files.exists(outDir.resolve("fine/out.npy")), "nothing written at all");
    List<Path> after = new ArrayList<>(tree(dir));
    after.remove(dir.resolve("x.npy"));
    assertEquals(before, after, "no file or folder was created");
  }

  @Test
  void runRefusesAbsoluteOutputNames() throws IOException {
    // TF names cannot start with '/', but nothing stops a hostile ONNX model: rename the output in the proto.
    Path onnx = modelWithOutputs("out");
    Path victim = dir.resolve("victim");
    OnnxMl.ModelProto m = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(onnx));
    OnnxMl.ModelProto.Builder mb = m.toBuilder();
    OnnxMl.GraphProto.Builder g = mb.getGraphBuilder();
    String abs = victim.toString();
    g.getOutputBuilder(0).setName(abs);
    for (OnnxMl.NodeProto.Builder n : g.getNodeBuilderList()) {
      for (int i = 0; i < n.getOutputCount(); i++) if (n.getOutput(i).equals("out")) n.setOutput(i, abs);
    }
    Files.write(onnx, mb.build().toByteArray());
    CliRunner.Run r = run(onnx, dir.resolve("out"));
    assertRefused(r, "absolute path");
    assertFalse(Files.exists(Path.of(abs + ".npy")));
  }

  @Test
  void runRefusesASymbolicLinkInsideTheOutputDirThatLeadsOut() throws IOException {
    Path onnx = modelWithOutputs("output/output_batch_major");
    Path outDir = Files.createDirectories(dir.resolve("out"));
    Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
    Files.createSymbolicLink(outDir.resolve("output"), elsewhere);
    CliRunner.Run r = run(onnx, outDir);
    assertRefused(r, "symbolic link");
    assertEquals(List.of(elsewhere), tree(elsewhere), "nothing written through the link");
    // And a symlink at the file itself (pointing at a file to overwrite).
    Files.delete(outDir.resolve("output"));
    Path target = Files.writeString(dir.resolve("precious.txt"), "keep");
    Files.createDirectories(outDir.resolve("output"));
    Files.createSymbolicLink(outDir.resolve("output/output_batch_major.npy"), target);
    assertRefused(run(onnx, outDir), "symbolic link");
    assertEquals("keep", Files.readString(target));
    // The same model into a clean folder works: the check does not refuse legitimate subdirectories.
    Path clean = dir.resolve("clean");
    assertEquals(0, run(onnx, clean).exit());
    assertArrayEquals(new long[] {2}, Npy.read(clean.resolve("output/output_batch_major.npy")).shape());
  }

  // ---- external data of an ONNX model read by quantize

  /** A MatMul model whose 16x16 weight is external data at {@code location}. */
  private Path modelWithExternalWeight(Path modelDir, String location) throws IOException {
    int n = 16;
    OnnxMl.TensorProto w = OnnxMl.TensorProto.newBuilder().setName("W").setDataType(1).addDims(n).addDims(n)
        .setDataLocation(OnnxMl.TensorProto.DataLocation.EXTERNAL)
        .addExternalData(OnnxMl.StringStringEntryProto.newBuilder().setKey("location").setValue(location))
        .addExternalData(OnnxMl.StringStringEntryProto.newBuilder().setKey("length").setValue(Integer.toString(n * n * 4)))
        .build();
    OnnxMl.TypeProto t = OnnxMl.TypeProto.newBuilder().setTensorType(OnnxMl.TypeProto.Tensor.newBuilder().setElemType(1)
        .setShape(OnnxMl.TensorShapeProto.newBuilder()
            .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(1))
            .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(n)))).build();
    OnnxMl.GraphProto g = OnnxMl.GraphProto.newBuilder().setName("g").addInitializer(w)
        .addInput(OnnxMl.ValueInfoProto.newBuilder().setName("X").setType(t))
        .addOutput(OnnxMl.ValueInfoProto.newBuilder().setName("Y").setType(t))
        .addNode(OnnxMl.NodeProto.newBuilder().setOpType("MatMul").setName("mm").addInput("X").addInput("W").addOutput("Y"))
        .build();
    OnnxMl.ModelProto m = OnnxMl.ModelProto.newBuilder().setIrVersion(8).setGraph(g)
        .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).build();
    Path p = Files.createDirectories(modelDir).resolve("model.onnx");
    Files.write(p, m.toByteArray());
    return p;
  }

  /** 1 KiB of "secret" bytes: exactly what a 16x16 float weight reads. */
  private Path secret() throws IOException {
    ByteBuffer b = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 256; i++) b.putFloat(0.5f + i);
    return Files.write(dir.resolve("secret/key.bin".replace('/', '_')), b.array());
  }

  @Test
  void quantizeReadsExternalDataOnlyInsideTheModelsFolder() throws IOException {
    Path secret = secret();
    Path out = dir.resolve("q/out.onnx");
    // Climbing out with '..'
    Path m1 = modelWithExternalWeight(dir.resolve("m1"), "../" + secret.getFileName());
    assertRefused(CliRunner.run("quantize", m1.toString(), "--output", out.toString()), "external data of tensor 'W'", "'..'");
    // An absolute location
    Path m2 = modelWithExternalWeight(dir.resolve("m2"), secret.toString());
    assertRefused(CliRunner.run("quantize", m2.toString(), "--output", out.toString()), "external data of tensor 'W'", "absolute");
    // A symbolic link in the model's folder that leads out of it
    Path m3 = modelWithExternalWeight(dir.resolve("m3"), "weights.bin");
    Files.createSymbolicLink(dir.resolve("m3/weights.bin"), secret);
    assertRefused(CliRunner.run("quantize", m3.toString(), "--output", out.toString()), "symbolic link");
    assertFalse(Files.exists(out.getParent()), "nothing written");
    // ONNX Runtime follows such locations: run (through OnnxSession) must refuse the same models before it does.
    Path x = dir.resolve("x.npy");
    Npy.write(x, Tensor.ofFloats(new long[] {1, 16}, new float[16]));
    for (Path m : List.of(m1, m2, m3)) {
      CliRunner.Run r = CliRunner.run("run", "--onnx", m.toString(), "--input", "X=" + x, "--output-dir", dir.resolve("run").toString());
      assertRefused(r, "external data of tensor 'W'");
    }
    // The same bytes as a real file inside the folder are read (the check does not refuse legitimate models).
    Path m4 = modelWithExternalWeight(dir.resolve("m4"), "weights.bin");
    Files.copy(secret, dir.resolve("m4/weights.bin"));
    CliRunner.Run ok = CliRunner.run("quantize", m4.toString(), "--output", out.toString());
    assertEquals(0, ok.exit(), ok.out() + ok.err());
  }

  // ---- --output of every command that writes

  private static boolean mkfifo(Path p) throws IOException, InterruptedException {
    Process pr = new ProcessBuilder("mkfifo", p.toString()).redirectErrorStream(true).start();
    return pr.waitFor() == 0;
  }

  private static boolean isFifo(Path p) throws IOException {
    BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    return a.isOther();
  }

  @Test
  void outputRefusesFifosDevicesAndSymbolicLinks() throws Exception {
    Fixture f = Fixtures.linearSoftmax(VariableKind.RESOURCE);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Path fifo = dir.resolve("fifo.onnx");
    assertTrue(mkfifo(fifo), "mkfifo");
    String[] convert = {"convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(), "--output"};
    assertRefused(CliRunner.run(concat(convert, fifo.toString())), "special file");
    assertTrue(isFifo(fifo), "the FIFO is still a FIFO");
    assertRefused(CliRunner.run(concat(convert, "/dev/null")), "/dev/null", "special file");

    Path model = dir.resolve("model.onnx");
    assertEquals(0, CliRunner.run(concat(convert, model.toString())).exit());
    assertRefused(CliRunner.run("quantize", model.toString(), "--output", fifo.toString()), "special file");
    assertTrue(isFifo(fifo));

    Path precious = Files.writeString(dir.resolve("precious.txt"), "keep");
    Path link = dir.resolve("link.onnx");
    Files.createSymbolicLink(link, precious);
    assertRefused(CliRunner.run(concat(convert, link.toString())), "symbolic link");
    assertRefused(CliRunner.run("quantize", model.toString(), "--output", link.toString()), "symbolic link");
    assertTrue(Files.isSymbolicLink(link), "the link is left alone");
    assertEquals("keep", Files.readString(precious), "and so is its target");

    // savedmodel: its --output is a directory; a link to an empty one is refused too.
    Path emptyDir = Files.createDirectories(dir.resolve("empty"));
    Path dirLink = dir.resolve("sm-link");
    Files.createSymbolicLink(dirLink, emptyDir);
    assertRefused(CliRunner.run("savedmodel", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--output", dirLink.toString()), "symbolic link");
    assertEquals(List.of(emptyDir), tree(emptyDir));

    // run: a FIFO where an output goes.
    Path outDir = Files.createDirectories(dir.resolve("run/output"));
    assertTrue(mkfifo(outDir.resolve("output_batch_major.npy")));
    Tensor data = Tensor.ofFloats(new long[] {1, 2, 8}, new float[2 * 8]);
    Path feats = dir.resolve("feats.npy");
    Npy.write(feats, data);
    CliRunner.Run r = CliRunner.run("run", "--onnx", model.toString(), "--input", "extern_data/placeholders/data/data=" + feats,
        "--output-dir", dir.resolve("run").toString());
    assertRefused(r, "special file");
    assertTrue(isFifo(outDir.resolve("output_batch_major.npy")));
  }

  @Test
  void outputRefusesTheCommandsOwnInputs() throws IOException {
    Fixture f = Fixtures.linearSoftmax(VariableKind.RESOURCE);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    byte[] graph = Files.readAllBytes(w.graph());
    Path index = Path.of(w.checkpointPrefix() + ".index");
    Path data = Path.of(w.checkpointPrefix() + ".data-00000-of-00001");
    byte[] indexBytes = Files.readAllBytes(index);
    String[] convert = {"convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(), "--output"};
    assertRefused(CliRunner.run(concat(convert, w.graph().toString())), "is one of the command's inputs");
    assertRefused(CliRunner.run(concat(convert, index.toString())), "is one of the command's inputs");
    assertRefused(CliRunner.run(concat(convert, data.toString())), "is one of the command's inputs");
    // Through a hard link and through a path spelled differently.
    Path hard = dir.resolve("hard.onnx");
    Files.createLink(hard, w.graph());
    assertRefused(CliRunner.run(concat(convert, hard.toString())), "is one of the command's inputs");
    Path spelled = w.graph().getParent().resolve("./x/../" + w.graph().getFileName());
    assertRefused(CliRunner.run(concat(convert, spelled.toString())), "is one of the command's inputs");
    assertArrayEquals(graph, Files.readAllBytes(w.graph()));
    assertArrayEquals(indexBytes, Files.readAllBytes(index));

    Path model = dir.resolve("model.onnx");
    assertEquals(0, CliRunner.run(concat(convert, model.toString())).exit());
    byte[] modelBytes = Files.readAllBytes(model);
    assertRefused(CliRunner.run("quantize", model.toString(), "--output", model.toString()), "is one of the command's inputs");
    assertArrayEquals(modelBytes, Files.readAllBytes(model));
    Path feats = dir.resolve("feats.npy");
    Npy.write(feats, Tensor.ofFloats(new long[] {5, 8}, new float[5 * 8]));
    assertRefused(CliRunner.run("stream", "--onnx", model.toString(), "--input", feats.toString(), "--chunk", "2",
        "--output", feats.toString()), "is one of the command's inputs");
  }

  private static String[] concat(String[] a, String b) {
    String[] r = java.util.Arrays.copyOf(a, a.length + 1);
    r[a.length] = b;
    return r;
  }
}
