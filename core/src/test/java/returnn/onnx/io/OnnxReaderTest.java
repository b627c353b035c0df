package returnn.onnx.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

class OnnxReaderTest {
  @TempDir
  Path dir;

  /** x [batch,4] → MatMul W → Loop (body: Add of the carried value and an outer constant) → y; metadata. */
  private static Graph model() {
    Graph g = new Graph("main");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("batch"), Dim.of(4)));
    Value w = g.addConstant("W", Tensor.ofFloats(new long[] {4, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12));
    Value b = g.addConstant("b", Tensor.ofFloats(new long[] {3}, 0.5f, -1, 2));
    Node mm = g.addNode(Node.ONNX, "MatMul", "dense/MatMul", null, List.of(x, w), 1);
    mm.output(0).setDtype(DType.FLOAT);
    Graph body = g.newSubgraph("body");
    body.addInput("i", DType.INT64, Shape.SCALAR);
    Value cond = body.addInput("cond", DType.BOOL, Shape.SCALAR);
    Value h = body.addInput("h", DType.FLOAT, Shape.of(Dim.UNKNOWN, Dim.of(3)));
    Node add = body.addNode(Node.ONNX, "Add", "step/Add", null, List.of(h, b), 1);
    add.output(0).setDtype(DType.FLOAT);
    add.output(0).setShape(Shape.of(Dim.UNKNOWN, Dim.of(3)));
    body.addOutput(cond);
    body.addOutput(add.output(0));
    Node loop = g.addNode(Node.ONNX, "Loop", "loop", null,
        List.of(g.addConstant("M", Tensor.scalarLong(2)), g.addConstant("c", Tensor.ofBools(new long[0], true)), mm.output(0)), 1);
    loop.set("body", new Attr.GraphVal(body));
    loop.output(0).setDtype(DType.FLOAT);
    loop.output(0).setShape(Shape.of(Dim.UNKNOWN, Dim.of(3)));
    loop.output(0).setName("y");
    g.addOutput(loop.output(0));
    return g;
  }

  @Test
  void writingWhatWasReadGivesTheSameBytes() throws IOException {
    OnnxMl.ModelProto first = OnnxWriter.toModel(model(), 17, Map.of("returnn_onnx.version", "1"));
    Path f = dir.resolve("m.onnx");
    Files.write(f, first.toByteArray());
    OnnxReader.Model m = OnnxReader.read(f);
    assertEquals(17, m.opset());
    assertEquals(Map.of("returnn_onnx.version", "1"), m.metadata());
    assertEquals(Map.of("Loop", 1, "MatMul", 1, "Add", 1), m.graph().opHistogram());
    Node loop = m.graph().nodes().stream().filter(n -> n.op().equals("Loop")).findFirst().orElseThrow();
    Graph body = ((Attr.GraphVal) loop.attr("body")).value();
    Node add = body.nodes().get(0);
    assertTrue(add.input(1).isConstant(), "the body reads the outer constant b");
    assertEquals(Shape.of(Dim.sym("batch"), Dim.of(4)), m.graph().inputs().get(0).shape());
    assertEquals(DType.FLOAT, m.graph().nodes().get(0).output(0).dtype(), "inferred where value_info is missing");
    OnnxMl.ModelProto second = OnnxWriter.toModel(m.graph(), m.opset(), m.metadata());
    assertEquals(first, second);
  }

  @Test
  void typedTensorFieldsConstantNodesAndExternalDataAreRead() throws IOException {
    ByteBuffer ext = ByteBuffer.allocate(8 + 12).order(ByteOrder.LITTLE_ENDIAN);
    ext.putLong(0).putFloat(1.5f).putFloat(-2f).putFloat(3f).flip();
    Files.write(dir.resolve("weights.bin"), ext.array());
    OnnxMl.GraphProto.Builder g = OnnxMl.GraphProto.newBuilder().setName("g")
        .addInitializer(OnnxMl.TensorProto.newBuilder().setName("f").setDataType(1).addDims(2).addFloatData(0.25f).addFloatData(4f))
        .addInitializer(OnnxMl.TensorProto.newBuilder().setName("i8").setDataType(3).addDims(3).addInt32Data(-128).addInt32Data(0).addInt32Data(127))
        .addInitializer(OnnxMl.TensorProto.newBuilder().setName("e").setDataType(1).addDims(3)
            .setDataLocation(OnnxMl.TensorProto.DataLocation.EXTERNAL)
            .addExternalData(kv("location", "weights.bin")).addExternalData(kv("offset", "8")).addExternalData(kv("length", "12")))
        // An initializer also listed as input, as models before IR version 4 have them.
        .addInput(info("f", 1, 2))
        .addNode(OnnxMl.NodeProto.newBuilder().setOpType("Constant").addOutput("k").addAttribute(
            OnnxMl.AttributeProto.newBuilder().setName("value_ints").setType(OnnxMl.AttributeProto.AttributeType.INTS).addInts(3).addInts(1)))
        .addNode(OnnxMl.NodeProto.newBuilder().setOpType("Add").setName("sum").addInput("e").addInput("e").addOutput("s"))
        .addOutput(info("s", 1, 3));
    Path f = write(g);
    OnnxReader.Model m = OnnxReader.read(f);
    assertTrue(m.graph().inputs().isEmpty());
    Map<String, Tensor> c = new java.util.HashMap<>();
    for (Value v : m.graph().constants()) c.put(v.name(), v.constant());
    assertArrayEquals(new float[] {0.25f, 4f}, c.get("f").toFloats());
    assertEquals(DType.INT8, c.get("i8").dtype());
    assertArrayEquals(new long[] {-128, 0, 127}, c.get("i8").toLongs());
    assertArrayEquals(new float[] {1.5f, -2f, 3f}, c.get("e").toFloats());
    assertArrayEquals(new long[] {3, 1}, c.get("k").toLongs());
  }

  @Test
  void aValueNothingDefinesIsAnErrorNamingTheNode() throws IOException {
    Path f = write(OnnxMl.GraphProto.newBuilder().setName("g")
        .addNode(OnnxMl.NodeProto.newBuilder().setOpType("Relu").setName("act").addInput("missing").addOutput("y"))
        .addOutput(info("y", 1, 1)));
    ConversionException e = assertThrows(ConversionException.class, () -> OnnxReader.read(f));
    assertTrue(e.getMessage().contains("'act' (Relu) reads 'missing'"), e.getMessage());
  }

  @Test
  void domainsTheWriterCannotImportAreRefused() throws IOException {
    OnnxMl.ModelProto m = OnnxMl.ModelProto.newBuilder().setIrVersion(8)
        .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setVersion(17))
        .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("ai.onnx.ml").setVersion(3))
        .setGraph(OnnxMl.GraphProto.newBuilder().setName("g")).build();
    Path f = dir.resolve("ml.onnx");
    Files.write(f, m.toByteArray());
    ConversionException e = assertThrows(ConversionException.class, () -> OnnxReader.read(f));
    assertTrue(e.getMessage().contains("ai.onnx.ml"), e.getMessage());
  }

  private Path write(OnnxMl.GraphProto.Builder g) throws IOException {
    OnnxMl.ModelProto m = OnnxMl.ModelProto.newBuilder().setIrVersion(8)
        .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setVersion(17)).setGraph(g).build();
    Path f = dir.resolve("hand.onnx");
    Files.write(f, m.toByteArray());
    return f;
  }

  private static OnnxMl.StringStringEntryProto kv(String k, String v) {
    return OnnxMl.StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
  }

  private static OnnxMl.ValueInfoProto info(String name, int type, long dim) {
    return OnnxMl.ValueInfoProto.newBuilder().setName(name).setType(OnnxMl.TypeProto.newBuilder().setTensorType(
        OnnxMl.TypeProto.Tensor.newBuilder().setElemType(type).setShape(OnnxMl.TensorShapeProto.newBuilder()
            .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(dim))))).build();
  }
}
