package returnn.onnx.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

class TfReferenceTest {
  private static AttrValue type(DataType t) {
    return AttrValue.newBuilder().setType(t).build();
  }

  private static NodeDef placeholder(String name, DataType t) {
    return NodeDef.newBuilder().setName(name).setOp("Placeholder").putAttr("dtype", type(t)).build();
  }

  private static NodeDef add(String name, String a, String b) {
    return NodeDef.newBuilder().setName(name).setOp("AddV2").addInput(a).addInput(b)
        .putAttr("T", type(DataType.DT_FLOAT)).build();
  }

  @Test
  void placeholderPlusConst() {
    GraphDef g = GraphDef.newBuilder()
        .addNode(placeholder("x", DataType.DT_FLOAT))
        .addNode(TfProtos.constNode("c", Tensor.ofFloats(new long[] {3}, 1, 2, 3)))
        .addNode(add("y", "x", "c"))
        .build();
    Tensor x = Tensor.ofFloats(new long[] {2, 3}, 0, 0, 0, 10, 20, 30);
    Map<String, Tensor> out = TfReference.run(g, null, Map.of("x:0", x), List.of("y:0", "y"));
    Tensor y = out.get("y:0");
    assertEquals(DType.FLOAT, y.dtype());
    assertArrayEquals(new long[] {2, 3}, y.shape());
    assertArrayEquals(new float[] {1, 2, 3, 11, 22, 33}, y.toFloats());
    assertArrayEquals(y.toFloats(), out.get("y").toFloats());
  }

  @Test
  void dtypesRoundTrip() {
    GraphDef.Builder g = GraphDef.newBuilder();
    DType[] types = {DType.DOUBLE, DType.INT32, DType.INT64, DType.BOOL, DType.UINT8};
    Tensor[] values = {
      Tensor.ofDoubles(new long[] {2}, 1.5, -2),
      Tensor.ofInts(new long[0], -7),
      Tensor.ofLongs(new long[] {1, 2}, 1L << 40, -3),
      Tensor.ofBools(new long[] {3}, true, false, true),
      Tensor.fromLongs(DType.UINT8, new long[] {2}, new long[] {0, 255}),
    };
    for (int i = 0; i < types.length; i++) {
      g.addNode(placeholder("p" + i, TfProtos.dataType(types[i])));
      g.addNode(NodeDef.newBuilder().setName("id" + i).setOp("Identity").addInput("p" + i)
          .putAttr("T", type(TfProtos.dataType(types[i]))));
    }
    Map<String, Tensor> feeds = new java.util.HashMap<>();
    List<String> fetches = new java.util.ArrayList<>();
    for (int i = 0; i < types.length; i++) {
      feeds.put("p" + i + ":0", values[i]);
      fetches.add("id" + i + ":0");
    }
    Map<String, Tensor> out = TfReference.run(g.build(), null, feeds, fetches);
    for (int i = 0; i < types.length; i++) {
      Tensor t = out.get("id" + i + ":0");
      assertEquals(types[i], t.dtype());
      assertArrayEquals(values[i].shape(), t.shape());
      assertArrayEquals(values[i].toDoubles(), t.toDoubles());
    }
  }

  @Test
  void unknownOpIsNamed() {
    GraphDef g = GraphDef.newBuilder()
        .addNode(placeholder("x", DataType.DT_FLOAT))
        .addNode(NodeDef.newBuilder().setName("lstm0_fw/rec/NativeLstm2").setOp("NativeLstm2").addInput("x"))
        .build();
    // The graph is imported as far as the fetches need: an unknown op they need is named.
    var e = assertThrows(UnsupportedOperationException.class,
        () -> TfReference.run(g, null, Map.of(), List.of("lstm0_fw/rec/NativeLstm2")));
    assertTrue(e.getMessage().contains("'NativeLstm2' (node 'lstm0_fw/rec/NativeLstm2')"), e.getMessage());
  }

  @Test
  void unknownFetchIsNamed() {
    GraphDef g = GraphDef.newBuilder().addNode(placeholder("x", DataType.DT_FLOAT)).build();
    var e = assertThrows(IllegalArgumentException.class,
        () -> TfReference.run(g, null, Map.of(), List.of("nope:0")));
    assertTrue(e.getMessage().contains("nope"), e.getMessage());
  }

  @Test
  void restoresBothVariableKindsFromTfCheckpoint(@TempDir Path dir) {
    Path prefix = dir.resolve("net-model/network.030");
    Tensor w = Tensor.ofFloats(new long[] {2}, 0.5f, -1f);
    Tensor b = Tensor.ofFloats(new long[] {2}, 3f, 4f);
    TfCheckpointWriter.write(prefix, Map.of("output/W", w, "old/b", b, "global_step", TfCheckpointWriter.globalStep(30)));
    AttrValue f = type(DataType.DT_FLOAT);
    AttrValue shape = AttrValue.newBuilder().setShape(TfProtos.shape(2)).build();
    GraphDef g = GraphDef.newBuilder()
        // an existing node under our restore scope forces a unique scope name
        .addNode(TfProtos.constNode("returnn_onnx_restore/prefix", Tensor.scalarFloat(0)))
        .addNode(NodeDef.newBuilder().setName("output/W").setOp("VarHandleOp").putAttr("dtype", f)
            .putAttr("shape", shape).putAttr("shared_name", AttrValue.newBuilder()
                .setS(com.google.protobuf.ByteString.copyFromUtf8("output/W")).build()))
        .addNode(NodeDef.newBuilder().setName("output/W/Read/ReadVariableOp").setOp("ReadVariableOp")
            .addInput("output/W").putAttr("dtype", f))
        .addNode(NodeDef.newBuilder().setName("old/b").setOp("VariableV2").putAttr("dtype", f).putAttr("shape", shape))
        .addNode(NodeDef.newBuilder().setName("old/b/read").setOp("Identity").addInput("old/b").putAttr("T", f))
        .addNode(add("sum", "output/W/Read/ReadVariableOp", "old/b/read"))
        .build();
    Tensor sum = TfReference.run(g, prefix, Map.of(), List.of("sum:0")).get("sum:0");
    assertArrayEquals(new float[] {3.5f, 3f}, sum.toFloats());
  }
}
