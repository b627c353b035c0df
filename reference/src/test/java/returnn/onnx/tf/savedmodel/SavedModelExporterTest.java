package returnn.onnx.tf.savedmodel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.GraphOperation;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.VersionDef;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfCheckpointWriter;
import returnn.onnx.reference.TfProtos;
import returnn.onnx.reference.TfReference;
import returnn.onnx.reference.TfTensors;
import returnn.onnx.tf.checkpoint.CheckpointReader;

/**
 * {@link SavedModelExporter} on small hand-built graphs (plain protobuf, no fixtures), checked with TensorFlow itself:
 * the SavedModel loads with tag {@code serve}, TF restores our checkpoint through our saver nodes, and the signature
 * gives exactly what the original graph gives with the original checkpoint. TensorInfo dtypes equal TF's.
 */
class SavedModelExporterTest {
  @TempDir
  Path dir;

  static AttrValue type(DataType t) {
    return AttrValue.newBuilder().setType(t).build();
  }

  static NodeDef.Builder node(String name, String op, String... inputs) {
    NodeDef.Builder b = NodeDef.newBuilder().setName(name).setOp(op);
    for (String i : inputs) b.addInput(i);
    return b;
  }

  static NodeDef placeholder(String name, DataType t, long... dims) {
    return node(name, "Placeholder").putAttr("dtype", type(t))
        .putAttr("shape", AttrValue.newBuilder().setShape(TfProtos.shape(dims)).build()).build();
  }

  /**
   * A variable with only a read (no initializer: the exporter must add one for the VariableDef), and the read tensor.
   */
  static String variable(GraphDef.Builder g, String name, boolean resource, long... shape) {
    AttrValue shapeAttr = AttrValue.newBuilder().setShape(TfProtos.shape(shape)).build();
    if (resource) {
      g.addNode(node(name, "VarHandleOp").putAttr("dtype", type(DataType.DT_FLOAT)).putAttr("shape", shapeAttr)
          .putAttr("shared_name", AttrValue.newBuilder().setS(com.google.protobuf.ByteString.copyFromUtf8(name)).build())
          .putAttr("container", AttrValue.newBuilder().setS(com.google.protobuf.ByteString.EMPTY).build()));
      g.addNode(node(name + "/Read/ReadVariableOp", "ReadVariableOp", name).putAttr("dtype", type(DataType.DT_FLOAT)));
      return name + "/Read/ReadVariableOp";
    }
    g.addNode(node(name, "VariableV2").putAttr("dtype", type(DataType.DT_FLOAT)).putAttr("shape", shapeAttr)
        .putAttr("shared_name", AttrValue.newBuilder().setS(com.google.protobuf.ByteString.EMPTY).build())
        .putAttr("container", AttrValue.newBuilder().setS(com.google.protobuf.ByteString.EMPTY).build()));
    g.addNode(node(name + "/read", "Identity", name).putAttr("T", type(DataType.DT_FLOAT)));
    return name + "/read";
  }

  /**
   * x [?,3] · W [3,4] + b → Identity {@code output/output_batch_major}; {@code split} (2 outputs) of it,
   * {@code shape} (int32 Shape) and {@code argmax} (int64). Also an unused placeholder and an unused variable.
   */
  static GraphDef graph(boolean resource) {
    GraphDef.Builder g = GraphDef.newBuilder().setVersions(VersionDef.newBuilder().setProducer(1205));
    g.addNode(placeholder("extern_data/placeholders/data/data", DataType.DT_FLOAT, -1, 3));
    g.addNode(placeholder("extern_data/placeholders/classes/classes", DataType.DT_INT32, -1));
    String w = variable(g, "output/W", resource, 3, 4);
    String b = variable(g, "output/b", resource, 4);
    variable(g, "global_step_like", resource, 1);
    g.addNode(node("output/MatMul", "MatMul", "extern_data/placeholders/data/data", w).putAttr("T", type(DataType.DT_FLOAT))
        .putAttr("transpose_a", AttrValue.newBuilder().setB(false).build())
        .putAttr("transpose_b", AttrValue.newBuilder().setB(false).build()));
    g.addNode(node("output/add", "AddV2", "output/MatMul", b).putAttr("T", type(DataType.DT_FLOAT)));
    g.addNode(node("output/output_batch_major", "Identity", "output/add").putAttr("T", type(DataType.DT_FLOAT)));
    g.addNode(TfProtos.constNode("split/dim", Tensor.ofInts(new long[0], 1)));
    g.addNode(node("split", "Split", "split/dim", "output/add").putAttr("T", type(DataType.DT_FLOAT))
        .putAttr("num_split", AttrValue.newBuilder().setI(2).build()));
    g.addNode(node("shape", "Shape", "output/add").putAttr("T", type(DataType.DT_FLOAT))
        .putAttr("out_type", type(DataType.DT_INT32)));
    g.addNode(TfProtos.constNode("argmax/dimension", Tensor.ofInts(new long[0], 1)));
    g.addNode(node("argmax", "ArgMax", "output/add", "argmax/dimension").putAttr("T", type(DataType.DT_FLOAT))
        .putAttr("Tidx", type(DataType.DT_INT32)).putAttr("output_type", type(DataType.DT_INT64)));
    return g.build();
  }

  static Map<String, Tensor> checkpoint() {
    Map<String, Tensor> m = new LinkedHashMap<>();
    float[] w = new float[12];
    for (int i = 0; i < w.length; i++) w[i] = (float) Math.sin(i + 1) * 0.7f;
    m.put("output/W", Tensor.ofFloats(new long[] {3, 4}, w));
    m.put("output/b", Tensor.ofFloats(new long[] {4}, 0.25f, -1.5f, 3e-7f, 2f));
    m.put("global_step_like", Tensor.ofFloats(new long[] {1}, 30f));
    return m;
  }

  static final List<String> OUTPUTS = List.of("output/output_batch_major", "split:1", "split", "shape", "argmax:0");
  static final Tensor X = Tensor.ofFloats(new long[] {2, 3}, 1, -2, 3.5f, 0.125f, 7, -0.5f);

  Path writePb(GraphDef g, String name) throws Exception {
    Path p = dir.resolve(name);
    Files.write(p, g.toByteArray());
    return p;
  }

  @ParameterizedTest(name = "resource={0}")
  @ValueSource(booleans = {true, false})
  void loadsInTensorFlowAndMatchesTheOriginalExactly(boolean resource) throws Exception {
    GraphDef g = graph(resource);
    Path prefix = dir.resolve("net-model/network.030");
    TfCheckpointWriter.write(prefix, checkpoint());
    Path out = dir.resolve("export");
    SavedModelExporter.Result r = SavedModelExporter.export(
        new SavedModelExporter.Options(writePb(g, "graph.pb"), prefix, OUTPUTS, out));

    assertEquals(List.of("output/W", "output/b"), r.variables(), "only the used variables");
    assertEquals(Set.of("extern_data/placeholders/data/data"), r.inputs().keySet(), "unused placeholders pruned");
    assertEquals(List.of("output/output_batch_major", "split:1", "split", "shape", "argmax"), List.copyOf(r.outputs().keySet()));
    assertEquals("split:1", r.outputs().get("split:1").getName());
    assertEquals("argmax:0", r.outputs().get("argmax").getName());
    assertFalse(r.saverKept());
    assertEquals("save", r.saverScope());
    assertTrue(r.customOps().isEmpty());
    assertEquals(List.of(), r.warnings());
    assertEquals(r.savedModel(), SavedModel.parseFrom(Files.readAllBytes(out.resolve("saved_model.pb"))));

    try (CheckpointReader cr = CheckpointReader.open(out.resolve("variables/variables"))) {
      assertEquals(List.of("output/W", "output/b"), cr.entries().stream().map(CheckpointReader.Entry::name).toList());
      for (String v : List.of("output/W", "output/b")) {
        assertArrayEquals(checkpoint().get(v).toFloats(), cr.tensorChecked(v).toFloats(), v);
      }
    }

    Map<String, Tensor> expected = TfReference.run(g, prefix, Map.of("extern_data/placeholders/data/data:0", X), OUTPUTS);
    SignatureDef sig = r.savedModel().getMetaGraphs(0).getSignatureDefOrThrow("serving_default");
    try (SavedModelBundle bundle = SavedModelBundle.load(out.toString(), "serve");
        org.tensorflow.Tensor x = TfTensors.toTf(X);
        Result res = bundle.function("serving_default").call(Map.of("extern_data/placeholders/data/data", x))) {
      for (String o : OUTPUTS) {
        String key = o.endsWith(":0") ? o.substring(0, o.length() - 2) : o;
        Tensor got = TfTensors.fromTf(res.get(key).orElseThrow());
        Tensor want = expected.get(o);
        assertEquals(want.dtype(), got.dtype(), o);
        assertArrayEquals(want.shape(), got.shape(), o);
        assertArrayEquals(want.toDoubles(), got.toDoubles(), 0.0, o);
      }
      // Every TensorInfo's dtype is the one TensorFlow gives the tensor.
      for (TensorInfo info : Stream.concat(sig.getInputsMap().values().stream(), sig.getOutputsMap().values().stream()).toList()) {
        String[] parts = info.getName().split(":");
        GraphOperation op = bundle.graph().operation(parts[0]);
        assertEquals(op.output(Integer.parseInt(parts[1])).dataType(), info.getDtype(), info.getName());
      }
      // The variables hold the checkpoint values after TF's restore (through our saver, from our checkpoint).
      String read = resource ? "output/W/Read/ReadVariableOp" : "output/W/read";
      try (Result v = bundle.session().runner().fetch(read).run()) {
        assertArrayEquals(checkpoint().get("output/W").toFloats(), TfTensors.fromTf(v.get(0)).toFloats());
      }
    }
  }

  @Test
  void exportedMetaGraphReExportedAsMetaKeepsItsSaver() throws Exception {
    Path prefix = dir.resolve("ckpt/model");
    TfCheckpointWriter.write(prefix, checkpoint());
    Path first = dir.resolve("first");
    SavedModelExporter.Result r1 = SavedModelExporter.export(
        new SavedModelExporter.Options(writePb(graph(true), "graph.pb"), prefix, List.of(), first));
    assertEquals(Set.of("output/output_batch_major"), r1.outputs().keySet());
    MetaGraphDef meta = r1.savedModel().getMetaGraphs(0);
    Path metaFile = dir.resolve("exported.meta");
    Files.write(metaFile, meta.toByteArray());
    Path second = dir.resolve("second");
    SavedModelExporter.Result r2 = SavedModelExporter.export(
        new SavedModelExporter.Options(metaFile, prefix, List.of(), second));
    assertTrue(r2.saverKept());
    assertEquals(meta.getGraphDef(), r2.savedModel().getMetaGraphs(0).getGraphDef());
    assertEquals(meta.getSaverDef(), r2.savedModel().getMetaGraphs(0).getSaverDef());
    try (SavedModelBundle bundle = SavedModelBundle.load(second.toString(), "serve");
        org.tensorflow.Tensor x = TfTensors.toTf(X);
        Result res = bundle.function("serving_default").call(Map.of("extern_data/placeholders/data/data", x))) {
      Tensor want = TfReference.run(graph(true), prefix, Map.of("extern_data/placeholders/data/data:0", X),
          List.of("output/output_batch_major:0")).get("output/output_batch_major:0");
      assertArrayEquals(want.toFloats(), TfTensors.fromTf(res.get("output/output_batch_major").orElseThrow()).toFloats());
    }
  }

  @Test
  void graphWithoutVariablesNeedsNoCheckpointAndNoSaver() throws Exception {
    GraphDef g = GraphDef.newBuilder().setVersions(VersionDef.newBuilder().setProducer(1205))
        .addNode(placeholder("x", DataType.DT_FLOAT, -1))
        .addNode(TfProtos.constNode("c", Tensor.ofFloats(new long[] {1}, 2f)))
        .addNode(node("output/output_batch_major", "Mul", "x", "c").putAttr("T", type(DataType.DT_FLOAT)))
        .build();
    Path out = dir.resolve("sm");
    SavedModelExporter.Result r = SavedModelExporter.export(
        new SavedModelExporter.Options(writePb(g, "g.pb"), null, List.of(), out));
    assertFalse(r.savedModel().getMetaGraphs(0).hasSaverDef());
    assertTrue(Files.isDirectory(out.resolve("variables")));
    try (Stream<Path> s = Files.list(out.resolve("variables"))) {
      assertEquals(0, s.count());
    }
    try (SavedModelBundle bundle = SavedModelBundle.load(out.toString(), "serve");
        org.tensorflow.Tensor x = TfTensors.toTf(Tensor.ofFloats(new long[] {2}, 1.5f, -3f));
        Result res = bundle.function("serving_default").call(Map.of("x", x))) {
      assertArrayEquals(new float[] {3f, -6f}, TfTensors.fromTf(res.get("output/output_batch_major").orElseThrow()).toFloats());
    }
  }

  @Test
  void wrongVariableShapeAndDtypeAreReportedTogetherAndNothingIsWritten() throws Exception {
    Path prefix = dir.resolve("bad/model");
    TfCheckpointWriter.write(prefix, Map.of("output/W", Tensor.ofFloats(new long[] {4, 3}, new float[12]),
        "output/b", Tensor.ofDoubles(new long[] {4}, 1, 2, 3, 4)));
    Path out = dir.resolve("sm");
    ConversionException e = assertThrows(ConversionException.class, () -> SavedModelExporter.export(
        new SavedModelExporter.Options(writePb(graph(false), "graph.pb"), prefix, List.of(), out)));
    assertTrue(e.getMessage().startsWith("2 variable problems"), e.getMessage());
    assertTrue(e.getMessage().contains("'output/W' has shape [3, 4] in the graph but [4, 3]"), e.getMessage());
    assertTrue(e.getMessage().contains("'output/b' is float in the graph but double"), e.getMessage());
    assertFalse(Files.exists(out));
    try (Stream<Path> s = Files.list(dir)) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".tmp-")));
    }
  }

  @Test
  void signatureKeysAreTheTensorNamesUnmangled() throws Exception {
    GraphDef g = GraphDef.newBuilder()
        .addNode(placeholder("a b/x-y.z", DataType.DT_FLOAT, -1))
        .addNode(node("out_put/Id.x-1", "Identity", "a b/x-y.z").putAttr("T", type(DataType.DT_FLOAT)))
        .build();
    SavedModelExporter.Result r = SavedModelExporter.export(
        new SavedModelExporter.Options(writePb(g, "odd.pb"), null, List.of("out_put/Id.x-1:0"), dir.resolve("sm")));
    assertEquals(Set.of("out_put/Id.x-1"), r.outputs().keySet());
    assertEquals("out_put/Id.x-1:0", r.outputs().get("out_put/Id.x-1").getName());
    assertEquals(Set.of("a b/x-y.z"), r.inputs().keySet());
    assertEquals("a b/x-y.z:0", r.inputs().get("a b/x-y.z").getName());
  }
}
