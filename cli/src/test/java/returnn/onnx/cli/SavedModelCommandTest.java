package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.proto.CollectionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.VariableDef;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.Variables;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.reference.TfCheckpointWriter;
import returnn.onnx.reference.TfReference;
import returnn.onnx.reference.TfTensors;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.tf.checkpoint.CheckpointReader;

/**
 * {@code savedmodel}: every non-custom-op fixture, both variable kinds, from {@code .meta} and {@code .pb}, exported,
 * loaded by TensorFlow ({@code SavedModelBundle.load(dir, "serve")}, which restores our checkpoint through our saver
 * nodes) and run through its {@code serving_default} signature: the outputs equal TensorFlow's on the original graph
 * and checkpoint exactly. Also: bad input fails with one error and writes nothing; custom ops are written with a
 * warning; {@code convert} of the SavedModel names inputs and outputs as converting the original does.
 */
class SavedModelCommandTest {
  @TempDir
  Path dir;

  static Stream<Arguments> cases() {
    List<Arguments> l = new ArrayList<>();
    for (VariableKind k : VariableKind.values()) {
      for (Fixture f : Fixtures.all(k)) {
        for (GraphFormat g : List.of(GraphFormat.META, GraphFormat.PB)) l.add(Arguments.of(f.name(), k, g));
      }
    }
    return l.stream();
  }

  static Fixture fixture(String name, VariableKind kind) {
    return Fixtures.all(kind).stream().filter(f -> f.name().equals(name)).findFirst().orElseThrow();
  }

  static CliRunner.Run export(FixtureWriter.Written w, Path out, String... extra) {
    List<String> args = new ArrayList<>(List.of("savedmodel", "--graph", w.graph().toString(), "--checkpoint",
        w.checkpointPrefix().toString(), "--output", out.toString()));
    args.addAll(List.of(extra));
    return CliRunner.run(args.toArray(String[]::new));
  }

  static SavedModel read(Path sm) throws Exception {
    return SavedModel.parseFrom(Files.readAllBytes(sm.resolve("saved_model.pb")));
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("cases")
  void exportLoadsInTensorFlowAndGivesExactlyTheOriginalOutputs(String name, VariableKind kind, GraphFormat format)
      throws Exception {
    Fixture f = fixture(name, kind);
    FixtureWriter.Written w = f.write(dir, format);
    Path sm = dir.resolve("sm");
    CliRunner.Run r = export(w, sm, "--outputs", String.join(",", f.outputs()));
    assertEquals(0, r.exit(), r.out() + r.err());
    assertFalse(r.err().contains("warning"), r.err());

    // The proto: tag, signature, keys = TF tensor names without ":0", TensorInfo names "name:0".
    MetaGraphDef meta = read(sm).getMetaGraphs(0);
    assertEquals(List.of("serve"), meta.getMetaInfoDef().getTagsList());
    SignatureDef sig = meta.getSignatureDefOrThrow("serving_default");
    assertEquals("tensorflow/serving/predict", sig.getMethodName());
    List<String> outKeys = f.outputs().stream().map(o -> TensorRef.parse(o).onnxName()).toList();
    assertEquals(new TreeSet<>(outKeys), new TreeSet<>(sig.getOutputsMap().keySet()));
    sig.getOutputsMap().forEach((k, v) -> assertEquals(TensorRef.parse(k).toString(), v.getName()));
    sig.getInputsMap().forEach((k, v) -> {
      assertTrue(k.startsWith("extern_data/placeholders/data/"), "only the data key is read: " + k);
      assertEquals(k + ":0", v.getName());
    });
    assertTrue(sig.getInputsMap().containsKey(Fixtures.DATA));
    checkVariableDefs(meta);

    // The checkpoint holds exactly the used variables (not global_step), bit-exact, readable by our reader.
    Set<String> used = new TreeSet<>(f.checkpoint().keySet());
    used.remove("global_step");
    try (CheckpointReader cr = CheckpointReader.open(sm.resolve("variables/variables"))) {
      assertEquals(used, cr.entries().stream().map(CheckpointReader.Entry::name).collect(Collectors.toCollection(TreeSet::new)));
      for (String v : used) assertSameTensor(v, f.checkpoint().get(v), cr.tensorChecked(v));
    }

    // TensorFlow loads it (restoring through the saver) and the signature gives exactly the original outputs.
    Map<String, Tensor> feeds = f.randomFeeds(5, 7, 4, 1);
    Map<String, Tensor> expected = TfReference.run(f.graph(), w.checkpointPrefix(), feeds, f.outputs());
    Map<String, Tensor> actual = runSignature(sm, sig, feeds);
    for (String o : f.outputs()) {
      String key = TensorRef.parse(o).onnxName();
      assertSameTensor(o, expected.get(o), actual.get(key));
      assertEquals(expected.get(o).dtype().tfCode, sig.getOutputsOrThrow(key).getDtypeValue(), "TensorInfo dtype of " + key);
    }

    // convert of the SavedModel (no --outputs: its signature) names inputs and outputs as converting the original.
    Converter.Result fromSm = Converter.convert(ConvertOptions.of(sm, null, List.of()));
    Converter.Result fromOrig = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    assertEquals(names(fromOrig.graph().outputs()), names(fromSm.graph().outputs()));
    assertEquals(new TreeSet<>(outKeys), new TreeSet<>(names(fromSm.graph().outputs())));
    assertEquals(new TreeSet<>(names(fromOrig.graph().inputs())), new TreeSet<>(names(fromSm.graph().inputs())));
    assertEquals(new TreeSet<>(sig.getInputsMap().keySet()), new TreeSet<>(names(fromSm.graph().inputs())));
  }

  static List<String> names(List<Value> values) {
    return values.stream().map(Value::name).toList();
  }

  /** Loads the SavedModel with TF Java and calls {@code serving_default} with the feeds its inputs need. */
  static Map<String, Tensor> runSignature(Path sm, SignatureDef sig, Map<String, Tensor> feeds) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    try (SavedModelBundle bundle = SavedModelBundle.load(sm.toString(), "serve")) {
      Map<String, org.tensorflow.Tensor> in = new LinkedHashMap<>();
      try {
        for (String key : sig.getInputsMap().keySet()) {
          Tensor t = feeds.get(key + ":0");
          assertNotNull(t, "no feed for signature input " + key);
          in.put(key, TfTensors.toTf(t));
        }
        try (Result res = bundle.function("serving_default").call(in)) {
          for (String key : sig.getOutputsMap().keySet()) out.put(key, TfTensors.fromTf(res.get(key).orElseThrow()));
        }
      } finally {
        in.values().forEach(org.tensorflow.Tensor::close);
      }
    }
    return out;
  }

  static void assertSameTensor(String what, Tensor expected, Tensor actual) {
    assertNotNull(actual, what);
    assertEquals(expected.dtype(), actual.dtype(), what);
    assertArrayEquals(expected.shape(), actual.shape(), what);
    ByteBuffer a = expected.data().duplicate();
    ByteBuffer b = actual.data().duplicate();
    byte[] x = new byte[a.remaining()];
    byte[] y = new byte[b.remaining()];
    a.get(x);
    b.get(y);
    assertArrayEquals(x, y, what + ": bit-exact");
  }

  /** Every VariableDef names nodes that exist (TF Python rebuilds Variables from them on import). */
  static void checkVariableDefs(MetaGraphDef meta) throws Exception {
    Set<String> nodes = meta.getGraphDef().getNodeList().stream().map(NodeDef::getName).collect(Collectors.toSet());
    CollectionDef vars = meta.getCollectionDefOrThrow("variables");
    assertTrue(vars.getBytesList().getValueCount() > 0);
    for (var b : vars.getBytesList().getValueList()) {
      VariableDef d = VariableDef.parseFrom(b);
      assertTrue(nodes.contains(TensorRef.parse(d.getVariableName()).node()), d.toString());
      assertTrue(nodes.contains(d.getInitializerName()), d.toString());
      assertTrue(nodes.contains(TensorRef.parse(d.getSnapshotName()).node()), d.toString());
    }
    assertTrue(meta.hasSaverDef());
    assertTrue(nodes.contains(TensorRef.parse(meta.getSaverDef().getFilenameTensorName()).node()));
    assertTrue(nodes.contains(TensorRef.parse(meta.getSaverDef().getSaveTensorName()).node()));
    assertTrue(nodes.contains(meta.getSaverDef().getRestoreOpName()));
  }

  @Test
  void defaultOutputIsOutputBatchMajorAndSavedModelReExportKeepsItsSaver() throws Exception {
    Fixture f = Fixtures.attentionBlock(VariableKind.RESOURCE);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Path sm = dir.resolve("sm");
    CliRunner.Run r = export(w, sm);
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("output/output_batch_major"), r.out());
    assertTrue(r.out().contains("new saver nodes"), r.out());
    SignatureDef sig = read(sm).getMetaGraphs(0).getSignatureDefOrThrow("serving_default");
    assertEquals(Set.of("output/output_batch_major"), sig.getOutputsMap().keySet());
    assertEquals(Set.of(Fixtures.DATA, Fixtures.DATA_LENGTHS), sig.getInputsMap().keySet());
    // The source saver also restored global_step, so a new one was built; the old one is pruned.
    GraphDef g = read(sm).getMetaGraphs(0).getGraphDef();
    assertFalse(g.getNodeList().stream().anyMatch(n -> n.getName().equals("global_step")));

    // Re-exporting the SavedModel keeps its saver (it covers exactly the used variables) and gives the same outputs.
    Path again = dir.resolve("again");
    CliRunner.Run r2 = CliRunner.run("savedmodel", "--graph", sm.toString(), "--output", again.toString());
    assertEquals(0, r2.exit(), r2.err());
    assertTrue(r2.out().contains("the graph's own saver"), r2.out());
    assertEquals(read(sm).getMetaGraphs(0).getGraphDef(), read(again).getMetaGraphs(0).getGraphDef());
    Map<String, Tensor> feeds = f.randomFeeds(3, 6, 2);
    Map<String, Tensor> expected = TfReference.run(f.graph(), w.checkpointPrefix(), feeds, f.outputs());
    Map<String, Tensor> actual = runSignature(again, sig, feeds);
    assertSameTensor("output", expected.get(Fixtures.OUTPUT), actual.get("output/output_batch_major"));
  }

  @Test
  void sourceSaverCoveringExactlyTheUsedVariablesIsKept() throws Exception {
    for (VariableKind kind : VariableKind.values()) {
      Fixture f = Fixtures.linearSoftmax(kind);
      GraphDef.Builder g = f.graph().toBuilder().clearNode();
      for (NodeDef n : f.graph().getNodeList()) {
        if (!n.getName().equals("global_step") && !n.getName().startsWith("global_step/")) g.addNode(n);
      }
      Path meta = dir.resolve(kind + "/graph.meta");
      FixtureWriter.writeGraph(g.build(), meta, GraphFormat.META);
      Path prefix = dir.resolve(kind + "/net-model/network.030");
      TfCheckpointWriter.write(prefix, f.checkpoint());
      Path sm = dir.resolve(kind + "/sm");
      CliRunner.Run r = CliRunner.run("savedmodel", "--graph", meta.toString(), "--checkpoint", prefix.toString(),
          "--output", sm.toString());
      assertEquals(0, r.exit(), r.err());
      assertTrue(r.out().contains("restored by save/, the graph's own saver"), r.out());
      MetaGraphDef m = read(sm).getMetaGraphs(0);
      assertEquals("save/restore_all", m.getSaverDef().getRestoreOpName());
      checkVariableDefs(m);
      Map<String, Tensor> feeds = f.randomFeeds(9, 3, 5);
      Map<String, Tensor> expected = TfReference.run(f.graph(), prefix, feeds, f.outputs());
      Map<String, Tensor> actual = runSignature(sm, m.getSignatureDefOrThrow("serving_default"), feeds);
      assertSameTensor(kind + " output", expected.get(Fixtures.OUTPUT), actual.get("output/output_batch_major"));
    }
  }

  @Test
  void nativeLstm2GraphIsWrittenWithAWarning() throws Exception {
    int n = 2;
    GraphDefBuilder b = new GraphDefBuilder();
    Variables vars = new Variables(b, VariableKind.RESOURCE, 7);
    vars.globalStep(30);
    String x = b.placeholder("extern_data/placeholders/data/data", DType.FLOAT, -1, -1, 4 * n).name();
    String mask = b.placeholder("extern_data/placeholders/data/mask", DType.FLOAT, -1, -1).name();
    String w = vars.weight("lstm0_fw/rec/W_re", n, 4 * n);
    String lstm;
    try (var s = b.scope("lstm0_fw/rec")) {
      String h0 = b.constant("initial_h", Tensor.ofFloats(new long[] {1, n}, new float[n])).name();
      String c0 = b.constant("initial_c", Tensor.ofFloats(new long[] {1, n}, new float[n])).name();
      String start = b.constant("start", Tensor.ofInts(new long[0], 0)).name();
      String step = b.constant("step", Tensor.ofInts(new long[0], 1)).name();
      lstm = b.op("NativeLstm2", "NativeLstm2", x, w, h0, c0, mask, start, step).name();
    }
    b.opExact("Identity", "output/output_batch_major", lstm).attr("T", DType.FLOAT).outType(DType.FLOAT);
    GraphDef g = b.build();
    Path meta = dir.resolve("lstm.meta");
    FixtureWriter.writeGraph(g, meta, GraphFormat.META);
    Path prefix = dir.resolve("net-model/network.030");
    TfCheckpointWriter.write(prefix, vars.checkpointValues());

    Path sm = dir.resolve("sm");
    CliRunner.Run r = CliRunner.run("savedmodel", "--graph", meta.toString(), "--checkpoint", prefix.toString(),
        "--output", sm.toString());
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.err().contains("warning:") && r.err().contains("NativeLstm2") && r.err().contains("op library"), r.err());
    MetaGraphDef m = read(sm).getMetaGraphs(0);
    assertTrue(m.getMetaInfoDef().getStrippedOpList().getOpList().stream().anyMatch(d -> d.getName().equals("NativeLstm2")),
        "the custom OpDef is kept");
    assertTrue(m.getGraphDef().getNodeList().stream().anyMatch(d -> d.getOp().equals("NativeLstm2")));
    assertEquals(Set.of("extern_data/placeholders/data/data", "extern_data/placeholders/data/mask"),
        m.getSignatureDefOrThrow("serving_default").getInputsMap().keySet());
    TensorInfo out = m.getSignatureDefOrThrow("serving_default").getOutputsOrThrow("output/output_batch_major");
    assertEquals(DType.FLOAT.tfCode, out.getDtypeValue());
    try (CheckpointReader cr = CheckpointReader.open(sm.resolve("variables/variables"))) {
      assertEquals(List.of("lstm0_fw/rec/W_re"), cr.entries().stream().map(CheckpointReader.Entry::name).toList());
    }
    // Plain TensorFlow (without RETURNN's op library) refuses it, as the warning says.
    Exception e = assertThrows(Exception.class, () -> SavedModelBundle.load(sm.toString(), "serve").close());
    assertTrue(String.valueOf(e.getMessage()).contains("NativeLstm2"), e.toString());
  }

  // ---- bad input: one clear error, exit 1, nothing written -------------------------------------------------------

  void assertFailsCleanly(CliRunner.Run r, Path out, String... fragments) throws Exception {
    assertEquals(1, r.exit(), r.out() + r.err());
    assertTrue(r.err().startsWith("error: "), r.err());
    assertEquals(1, r.err().strip().lines().count(), "one error line: " + r.err());
    for (String f : fragments) assertTrue(r.err().contains(f), "expected '" + f + "' in: " + r.err());
    assertFalse(Files.exists(out), "nothing written at " + out);
    try (Stream<Path> s = Files.list(out.toAbsolutePath().getParent())) {
      List<Path> temps = s.filter(p -> p.getFileName().toString().startsWith(returnn.onnx.TempFiles.PREFIX)).toList();
      assertEquals(List.of(), temps, "no temporary directory left behind");
    }
  }

  @Test
  void missingVariableIsNamedAndNothingIsWritten() throws Exception {
    Fixture f = Fixtures.linearSoftmax(VariableKind.TF1);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Path other = dir.resolve("other/network.030");
    TfCheckpointWriter.write(other, Map.of("global_step", Tensor.scalarLong(3), "output/W", f.checkpoint().get("output/W"),
        "linear/W", f.checkpoint().get("linear/W"), "linear/b", f.checkpoint().get("linear/b")));
    Path out = dir.resolve("sm");
    CliRunner.Run r = CliRunner.run("savedmodel", "--graph", w.graph().toString(), "--checkpoint", other.toString(),
        "--output", out.toString());
    assertFailsCleanly(r, out, "output/b", "missing from checkpoint", "VariableV2");
  }

  @Test
  void corruptedCheckpointIsAChecksumErrorAndNothingIsWritten() throws Exception {
    Fixture f = Fixtures.linearSoftmax(VariableKind.RESOURCE);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Path data = Path.of(w.checkpointPrefix() + ".data-00000-of-00001");
    try (RandomAccessFile file = new RandomAccessFile(data.toFile(), "rw")) {
      long pos = file.length() / 2;
      file.seek(pos);
      int v = file.read();
      file.seek(pos);
      file.write(v ^ 0x5a);
    }
    Path out = dir.resolve("sm");
    assertFailsCleanly(export(w, out), out, "checksum", data.getFileName().toString());
    // Parent directories the command created for the output are removed again.
    Path nested = dir.resolve("new/nested/sm");
    CliRunner.Run r = export(w, nested);
    assertEquals(1, r.exit(), r.err());
    assertTrue(r.err().contains("checksum"), r.err());
    assertFalse(Files.exists(dir.resolve("new")), "no directories left behind");
  }

  @Test
  void unknownOutputIsNamedWithSuggestions() throws Exception {
    FixtureWriter.Written w = Fixtures.linearSoftmax(VariableKind.RESOURCE).write(dir, GraphFormat.META);
    Path out = dir.resolve("sm");
    assertFailsCleanly(export(w, out, "--outputs", "output/output_batch_majr"), out,
        "unknown output 'output/output_batch_majr'", "did you mean: output/output_batch_major", w.graph().getFileName().toString());
    assertFailsCleanly(export(w, out, "--outputs", "output/output_batch_major:3"), out,
        "node 'output/output_batch_major' (Identity)", "has 1 output");
  }

  @Test
  void unreadableGraphIsNamed() throws Exception {
    FixtureWriter.Written w = Fixtures.linearSoftmax(VariableKind.RESOURCE).write(dir, GraphFormat.META);
    Path bad = dir.resolve("broken.meta");
    Files.write(bad, new byte[] {0x0a, (byte) 0xff, (byte) 0xff, 0x01, 0x02});
    Path out = dir.resolve("sm");
    CliRunner.Run r = CliRunner.run("savedmodel", "--graph", bad.toString(), "--checkpoint",
        w.checkpointPrefix().toString(), "--output", out.toString());
    assertFailsCleanly(r, out, "broken.meta", "malformed protobuf");
    CliRunner.Run missing = CliRunner.run("savedmodel", "--graph", dir.resolve("nope.pb").toString(), "--output", out.toString());
    assertFailsCleanly(missing, out, "nope.pb", "no such graph file");
  }

  @Test
  void graphWithVariablesButNoCheckpointIsRefused() throws Exception {
    FixtureWriter.Written w = Fixtures.linearSoftmax(VariableKind.RESOURCE).write(dir, GraphFormat.PB);
    Path out = dir.resolve("sm");
    CliRunner.Run r = CliRunner.run("savedmodel", "--graph", w.graph().toString(), "--output", out.toString());
    assertFailsCleanly(r, out, "no checkpoint was given", "VarHandleOp");
  }

  @Test
  void existingNonEmptyDirectoryIsRefusedAndLeftAlone() throws Exception {
    FixtureWriter.Written w = Fixtures.linearSoftmax(VariableKind.RESOURCE).write(dir, GraphFormat.META);
    Path out = Files.createDirectories(dir.resolve("sm"));
    Files.writeString(out.resolve("keep.txt"), "mine");
    CliRunner.Run r = export(w, out);
    assertEquals(1, r.exit());
    assertTrue(r.err().contains("not empty"), r.err());
    assertEquals(List.of(out.resolve("keep.txt")), Files.list(out).toList());
    assertEquals("mine", Files.readString(out.resolve("keep.txt")));

    Path empty = Files.createDirectories(dir.resolve("empty"));
    CliRunner.Run ok = export(w, empty);
    assertEquals(0, ok.exit(), ok.err());
    assertTrue(Files.isRegularFile(empty.resolve("saved_model.pb")));
    assertTrue(Files.isRegularFile(empty.resolve("variables/variables.index")));
    assertTrue(Files.isRegularFile(empty.resolve("variables/variables.data-00000-of-00001")));
  }
}
