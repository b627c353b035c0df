package returnn.onnx.verify.shape;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.transformer.TransformerFixtures;
import returnn.onnx.ir.Node;
import returnn.onnx.verify.Verifier;

/**
 * The shape rules on RETURNN graphs, against TensorFlow running the original graph on a padded batch: RETURNN's dot
 * without its Reshapes and their shape arithmetic, and the Conformer's depthwise convolution over time as the width.
 */
class ShapeRulesParityTest {
  @TempDir
  Path dir;

  private record Converted(Converter.Result fused, Converter.Result plain, Verifier.Report report) {
    int rule(String name) {
      return fused.report().rulesFired.getOrDefault(name, 0);
    }

    String describe() {
      return report.format() + "fused: " + fused.graph().opHistogram() + "\nno-fuse: " + plain.graph().opHistogram()
          + "\nrules: " + fused.report().rulesFired;
    }
  }

  private Converted convert(Fixture f, double tolerance) {
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    Converter.Result fused = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    Converter.Result plain = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()).withFuse(false));
    Path onnx = dir.resolve(f.name() + ".onnx");
    fused.write(onnx);
    Verifier.Report r = Verifier.verify(new Verifier.Options(w.graph(), w.checkpointPrefix(), onnx, f.outputs(), Map.of(), 7, 3, 13,
        tolerance));
    Converted c = new Converted(fused, plain, r);
    assertTrue(r.ok(), c.describe());
    return c;
  }

  @Test
  void returnnsDotsLoseTheirReshapesAndStillEqualTensorFlow() {
    Converted c = convert(Fixtures.attentionBlock(VariableKind.RESOURCE), 1e-5);
    long dots = c.fused().graph().nodes().stream().filter(n -> n.isOnnx("MatMul") && n.name().contains("/dot/")).count();
    assertTrue(dots >= 2, c.describe());
    assertEquals(dots, c.rule("Shapes.FLAT_MATMUL"), "every dot: " + c.describe());
    for (Node n : c.fused().graph().nodes()) {
      if (n.isOnnx("MatMul")) assertEquals(3, n.input(0).shape().rank(), "MatMul on the [B,T,K] input: " + n.name());
    }
    assertTrue(c.fused().graph().count("Reshape") <= c.plain().graph().count("Reshape") - 2 * c.rule("Shapes.FLAT_MATMUL"), c.describe());
  }

  @Test
  void aConformerBlockRunsItsDepthwiseConvolutionOverTimeAsTheWidth() {
    var dims = TransformerFixtures.smallConformer();
    Converted c = convert(TransformerFixtures.conformer(VariableKind.RESOURCE, dims, 1), 1e-5);
    assertEquals(1, c.rule("Shapes.WIDE_CONV"), c.describe());
    assertTrue(c.rule("Shapes.FLAT_MATMUL") >= 8, "the block's 8 dots (feed-forward, attention, pointwise convs): " + c.describe());
    assertTrue(c.rule("Shapes.UNSQUEEZE_SQUEEZE") >= 1, c.describe());
    Node conv = c.fused().graph().nodes().stream().filter(n -> n.isOnnx("Conv") && n.attr("group") != null
        && n.intAttr("group", 1) > 1).findFirst().orElseThrow();
    long[] k = conv.input(1).constant().shape();
    // Depthwise over d_model channels, time as the width: [C, 1, 1, kernel].
    assertArrayEquals(new long[] {dims.model(), 1, 1, dims.kernel()}, k, "kernel [C, 1, 1, k]: " + java.util.Arrays.toString(k));
    assertEquals(c.plain().graph().count("Conv"), c.fused().graph().count("Conv"));
    int shapeOps = c.fused().graph().count("Shape") + c.fused().graph().count("Gather") + c.fused().graph().count("Concat");
    int before = c.plain().graph().count("Shape") + c.plain().graph().count("Gather") + c.plain().graph().count("Concat");
    assertTrue(shapeOps < before / 2, "shape arithmetic " + before + " → " + shapeOps + ": " + c.describe());
  }
}
