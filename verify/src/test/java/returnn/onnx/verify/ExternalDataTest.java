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
import returnn.onnx.io.OnnxWriter;
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

    OnnxMl.ModelProto m = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(external));
    String location = m.getGraph().getInitializer(0).getExternalData(0).getValue();
    assertTrue(location.matches("external\\.onnx\\.[0-9a-f]{16}\\.data"), "named after its content: " + location);
    Path data = dir.resolve(location);
    assertTrue(Files.exists(data));
    assertEquals(64L * 32 * 4, Files.size(data));
    // The same weights give the same name (deterministic output); only the referenced data file is there.
    OnnxWriter.write(g, 17, Map.of(), external, 0);
    assertEquals(List.of(data.getFileName().toString()), dataFiles(dir));
    // Other weights go to another file: the old model's data is never rewritten in place (a kill before the model is
    // moved leaves the old pair intact), and once the new model is in place the old data file is removed.
    Graph g2 = new Graph("g");
    Value x2 = g2.addInput("x", DType.FLOAT, Shape.of(2, 64));
    float[] w2 = w.clone();
    w2[7] += 1;
    Node mm2 = g2.addNode(Node.ONNX, "MatMul", "layer/MatMul", "layer/MatMul",
        List.of(x2, g2.addConstant("layer/W", Tensor.ofFloats(new long[] {64, 32}, w2))), 1);
    mm2.output(0).setDtype(DType.FLOAT);
    mm2.output(0).setShape(Shape.of(2, 32));
    mm2.output(0).setName("y");
    g2.addOutput(mm2.output(0));
    Path other = dir.resolve("other.onnx");
    Files.copy(external, other);
    Files.copy(data, dir.resolve(location.replace("external", "other")));
    OnnxWriter.write(g2, 17, Map.of(), other, 0);
    String location2 = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(other)).getGraph().getInitializer(0).getExternalData(0).getValue();
    assertTrue(!location2.equals(location.replace("external", "other")), location2);
    assertEquals(List.of(location, location2), dataFiles(dir), "the replaced model's data file is gone, no temporaries");
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

  static List<String> dataFiles(Path dir) throws java.io.IOException {
    try (java.util.stream.Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".data") || n.startsWith(".returnn-onnx-")).sorted().toList();
    }
  }
}
