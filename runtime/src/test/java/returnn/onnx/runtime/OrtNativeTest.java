package returnn.onnx.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.io.OnnxWriter;

/** A process that used ONNX Runtime leaves nothing in the temporary folder (ORT's loader left an empty folder). */
class OrtNativeTest {
  @TempDir
  Path dir;

  /** Child JVM: runs the model args[0] once. */
  public static void main(String[] args) {
    try (OnnxSession s = OnnxSession.open(Path.of(args[0]), OnnxSession.Options.singleThread())) {
      System.out.println("ran " + s.run(Map.of("x", Tensor.ofFloats(new long[] {2}, 1f, 2f))).keySet());
    }
  }

  @Test
  void onnxRuntimeLeavesNoFolderInTmp() throws Exception {
    Graph g = new Graph("g");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(2));
    Node n = g.addNode(Node.ONNX, "Relu", "relu", "relu", List.of(x), 1);
    n.output(0).setDtype(DType.FLOAT);
    n.output(0).setShape(Shape.of(2));
    n.output(0).setName("y");
    g.addOutput(n.output(0));
    Path model = dir.resolve("m.onnx");
    OnnxWriter.write(g, 17, Map.of(), model);
    Path tmp = Files.createDirectory(dir.resolve("tmp"));
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Djava.io.tmpdir=" + tmp, "-cp", System.getProperty("java.class.path"), OrtNativeTest.class.getName(), model.toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("ran [y]"), out);
    try (Stream<Path> s = Files.list(tmp)) {
      assertEquals(List.of(), s.map(f -> f.getFileName().toString()).toList(), "nothing left in java.io.tmpdir");
    }
  }
}
