package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

/** {@code inspect} of a control flow v2 graph: the functional ops are handled, not "unsupported". */
class FunctionalInspectTest {
  @TempDir
  Path dir;

  @Test
  void functionalOpsAreNotUnsupported() throws Exception {
    AttrValue floats = AttrValue.newBuilder().setList(AttrValue.ListValue.newBuilder().addType(DataType.DT_FLOAT)).build();
    FunctionDef f = FunctionDef.newBuilder().setSignature(OpDef.newBuilder().setName("f")
            .addInputArg(OpDef.ArgDef.newBuilder().setName("a").setType(DataType.DT_FLOAT))
            .addOutputArg(OpDef.ArgDef.newBuilder().setName("b").setType(DataType.DT_FLOAT)))
        .addNodeDef(NodeDef.newBuilder().setName("t").setOp("Tanh").addInput("a")
            .putAttr("T", AttrValue.newBuilder().setType(DataType.DT_FLOAT).build()))
        .putRet("b", "t:y:0").build();
    GraphDef g = GraphDef.newBuilder()
        .addNode(NodeDef.newBuilder().setName("x").setOp("Placeholder")
            .putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_FLOAT).build()))
        .addNode(NodeDef.newBuilder().setName("y").setOp("StatefulPartitionedCall").addInput("x")
            .putAttr("f", AttrValue.newBuilder().setFunc(NameAttrList.newBuilder().setName("f")).build())
            .putAttr("Tin", floats).putAttr("Tout", floats))
        .setLibrary(FunctionDefLibrary.newBuilder().addFunction(f)).build();
    Path pb = dir.resolve("g.pb");
    Files.write(pb, g.toByteArray());
    CliRunner.Run r = CliRunner.run("inspect", pb.toString());
    assertEquals(0, r.exit(), r.out() + r.err());
    assertTrue(r.out().contains("unsupported ops: none"), r.out());
  }
}
