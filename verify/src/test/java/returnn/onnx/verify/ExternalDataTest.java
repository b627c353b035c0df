package returnn.onnx.verify;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.onnx.OnnxWriter;
import returnn.onnx.runtime.OnnxSession;

/**
 * Weights past the threshold go to MODEL.onnx.data (the real threshold is ~2 GiB; here it is lowered so a small model
 * takes the same path), and ONNX Runtime loads them from there with the same results as the inline model.
 */
class ExternalDataTest {
  @TempDir
  Path dir;

  @Test
  void externalWeightsLoadAndGiveTheSameOutputs() throws Exception {
    Graph g = new Graph("g");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(2, 64));
    float[] w = new float[64 * 32];
    for (int i = 0; i < w.length; i++) w[i] = (i % 17) * 0.01f - 0.08f;
    Value weight = g.addConstant("layer/W", Tensor.ofFloats(new long[] {64, 32}, w));
    Node mm = g.addNode(Node.ONNX, "MatMul", "layer/MatMul", "layer/MatMul", List.of(x, weight), 1);
    mm.output(0).setDtype(DType.FLOAT);
    mm.output(0).setShape(Shape.of(2, 32));
    mm.output(0).setName("y");
    g.addOutput(mm.output(0));

    Path inline = dir.resolve("inline.onnx");
    Path external = dir.resolve("external.onnx");
    OnnxWriter.write(g, 17, Map.of(), inline);
    OnnxWriter.write(g, 17, Map.of(), external, 0);

    Path data = dir.resolve("external.onnx.data");
    assertTrue(Files.exists(data));
    assertEquals(64L * 32 * 4, Files.size(data));
    OnnxMl.ModelProto m = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(external));
    assertEquals(OnnxMl.TensorProto.DataLocation.EXTERNAL, m.getGraph().getInitializer(0).getDataLocation());
    assertTrue(Files.size(external) < 1024, "weights are not inline");

    float[] in = new float[128];
    for (int i = 0; i < in.length; i++) in[i] = (float) Math.sin(i);
    Map<String, Tensor> feeds = Map.of("x", Tensor.ofFloats(new long[] {2, 64}, in));
    float[] a;
    float[] b;
    try (OnnxSession s = OnnxSession.open(inline, OnnxSession.Options.defaults())) {
      a = s.run(feeds).get("y").toFloats();
    }
    try (OnnxSession s = OnnxSession.open(external, OnnxSession.Options.defaults())) {
      b = s.run(feeds).get("y").toFloats();
    }
    assertArrayEquals(a, b);
    assertTrue(Math.abs(a[0]) > 0, "a real result");
  }
}
