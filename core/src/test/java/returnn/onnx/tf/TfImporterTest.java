package returnn.onnx.tf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import org.tensorflow.proto.OpList;

class TfImporterTest {
  static TfModel model(org.tensorflow.proto.GraphDef g) {
    return new TfModel(g, Path.of("test.pb"), TfModel.Format.GRAPHDEF_BINARY, null, OpList.getDefaultInstance(), Map.of(), Map.of(), null);
  }

  static VariableStore store(Map<String, Tensor> vars) {
    return new VariableStore() {
      public Tensor variable(String name) {
        return vars.get(name);
      }

      public List<String> names() {
        return List.copyOf(vars.keySet());
      }

      public String describe() {
        return "test-ckpt";
      }
    };
  }

  @Test
  void prunesUnusedPlaceholdersAndNamesDims() {
    Graph g = TfImporter.importGraph(model(TestGraphs.small()), store(Map.of("output/b", Tensor.ofFloats(new long[] {3}, 1, 2, 3))),
        List.of("output/output_batch_major"), Map.of()).graph();
    assertEquals(1, g.inputs().size(), "targets and the unused length placeholder are pruned");
    Value in = g.inputs().get(0);
    assertEquals("extern_data/placeholders/data/data", in.name());
    assertEquals("batch", in.shape().dim(0).symbol());
    assertEquals("data_dim0_size", in.shape().dim(1).symbol(), "time is named after its length placeholder");
    assertEquals(1, g.constants().size());
    assertEquals(DType.FLOAT, g.constants().get(0).dtype());
  }

  @Test
  void unknownOutputSuggestsCloseNames() {
    ConversionException e = assertThrows(ConversionException.class, () -> TfImporter.importGraph(
        model(TestGraphs.small()), null, List.of("output/output_batch_majr"), Map.of()));
    assertTrue(e.getMessage().contains("unknown output 'output/output_batch_majr'"), e.getMessage());
    assertTrue(e.getMessage().contains("did you mean: output/output_batch_major"), e.getMessage());
  }

  @Test
  void missingVariableAndWrongShapeAreNamed() {
    ConversionException missing = assertThrows(ConversionException.class, () -> TfImporter.importGraph(
        model(TestGraphs.small()), store(Map.of("output/W", Tensor.ofFloats(new long[] {1}, 1))),
        List.of("output/output_batch_major"), Map.of()));
    assertTrue(missing.getMessage().contains("variable 'output/b' is missing from checkpoint test-ckpt"), missing.getMessage());
    ConversionException shape = assertThrows(ConversionException.class, () -> TfImporter.importGraph(
        model(TestGraphs.small()), store(Map.of("output/b", Tensor.ofFloats(new long[] {4}, 1, 2, 3, 4))),
        List.of("output/output_batch_major"), Map.of()));
    assertTrue(shape.getMessage().contains("has shape [3] in the graph but [4]"), shape.getMessage());
    ConversionException none = assertThrows(ConversionException.class, () -> TfImporter.importGraph(
        model(TestGraphs.small()), null, List.of("output/output_batch_major"), Map.of()));
    assertTrue(none.getMessage().contains("no checkpoint was given"), none.getMessage());
  }

  @Test
  void inputShapeOverride() {
    Graph g = TfImporter.importGraph(model(TestGraphs.small()), store(Map.of("output/b", Tensor.ofFloats(new long[] {3}, 1, 2, 3))),
        List.of("output/output_batch_major"), Map.of("extern_data/placeholders/data/data", new long[] {1, -1, 3})).graph();
    assertEquals(1, g.inputs().get(0).shape().dim(0).value());
  }

  @Test
  void tensorNamesFollowTheNamingRule() {
    assertEquals("a/b", TensorRef.parse("a/b:0").onnxName());
    assertEquals("a/b:1", TensorRef.parse("a/b:1").onnxName());
    assertEquals("a/b", TensorRef.parse("a/b").onnxName());
    assertEquals(new TensorRef("x", 2), TensorRef.parse("x:2"));
  }

  /** --inputs on a tensor that is not a placeholder cuts the graph there: what only computes it is left out. */
  @Test
  void cutAtATensorMakesItAnInput() {
    Graph g = TfImporter.importGraph(model(TestGraphs.small()), store(Map.of()), List.of("output/output_batch_major"),
        Map.of("output/add", new long[] {-1, -1, 3})).graph();
    assertEquals(List.of("output/add"), g.inputs().stream().map(Value::name).toList());
    assertEquals(DType.FLOAT, g.inputs().get(0).dtype(), "from the AddV2's T");
    assertEquals(0, g.constants().size(), "output/b only fed the cut tensor, so no checkpoint is read for it");
  }

  @Test
  void cutPastTheNodesOutputsIsAnError() {
    org.tensorflow.proto.GraphDef gd = TestGraphs.small().toBuilder().addNode(org.tensorflow.proto.NodeDef.newBuilder()
        .setName("one_out").setOp("Identity").addInput("output/add")
        .putAttr("T", org.tensorflow.proto.AttrValue.newBuilder().setType(org.tensorflow.proto.DataType.DT_FLOAT).build())
        .putAttr("_output_shapes", org.tensorflow.proto.AttrValue.newBuilder().setList(org.tensorflow.proto.AttrValue
            .ListValue.newBuilder().addShape(org.tensorflow.proto.TensorShapeProto.newBuilder().setUnknownRank(true)))
            .build())).build();
    ConversionException e = assertThrows(ConversionException.class, () -> TfImporter.importGraph(model(gd), store(Map.of()),
        List.of("output/output_batch_major"), Map.of("one_out:1", new long[] {2})));
    assertTrue(e.getMessage().contains("--inputs names output 1, but the node has 1 output"), e.getMessage());
  }
}
