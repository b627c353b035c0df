package returnn.onnx.verify;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.io.OnnxWriter;

class OnnxCheckerTest {
  @TempDir
  Path dir;

  @Test
  void acceptsAWrittenModelAndRejectsABrokenOne() throws Exception {
    Graph g = new Graph("g");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(2, 3));
    Node n = g.addNode(Node.ONNX, "Relu", "relu", "relu", List.of(x), 1);
    n.output(0).setDtype(DType.FLOAT);
    n.output(0).setShape(Shape.of(2, 3));
    g.addOutput(n.output(0));
    Path good = dir.resolve("good.onnx");
    OnnxWriter.write(g, 17, Map.of(), good);
    assertNull(OnnxChecker.check(good));

    OnnxMl.ModelProto m = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(good));
    OnnxMl.ModelProto broken = m.toBuilder().setGraph(m.getGraph().toBuilder()
        .setNode(0, m.getGraph().getNode(0).toBuilder().setInput(0, "undefined_value"))).build();
    Path bad = dir.resolve("bad.onnx");
    Files.write(bad, broken.toByteArray());
    String msg = OnnxChecker.check(bad);
    assertNotNull(msg);
    assertTrue(msg.contains("undefined_value"), msg);
  }
}
