package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.ir.Tensor;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Comparison;
import returnn.onnx.verify.OnnxChecker;
import returnn.onnx.verify.Verifier;

/**
 * Every fixture, both variable kinds, every graph format: converted through the CLI's code path and compared with
 * TensorFlow on a padded batch of different lengths (fp32 to 1e-5, integer outputs exactly).
 */
class FixtureConversionTest {
  @TempDir
  Path dir;

  static Stream<Arguments> cases() {
    List<Arguments> l = new ArrayList<>();
    for (VariableKind k : VariableKind.values()) {
      for (Fixture f : Fixtures.all(k)) {
        for (GraphFormat g : GraphFormat.values()) l.add(Arguments.of(f.name(), k, g));
      }
    }
    return l.stream();
  }

  static Fixture fixture(String name, VariableKind kind) {
    return Fixtures.all(kind).stream().filter(f -> f.name().equals(name)).findFirst().orElseThrow();
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("cases")
  void convertsAndMatchesTensorFlow(String name, VariableKind kind, GraphFormat format) {
    Fixture f = fixture(name, kind);
    FixtureWriter.Written w = f.write(dir, format);
    Path onnx = dir.resolve("model.onnx");
    List<String> args = new ArrayList<>(List.of("convert", "--graph", w.graph().toString(), "--output", onnx.toString(),
        "--outputs", String.join(",", f.outputs())));
    if (format != GraphFormat.SAVED_MODEL) args.addAll(List.of("--checkpoint", w.checkpointPrefix().toString()));
    CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("ONNX op"), r.out());
    assertNull(OnnxChecker.check(onnx), "the ONNX checker accepts the model");
    Verifier.Report rep = verify(f, w, onnx, 7, 4, 1);
    assertTrue(rep.ok(), rep.format());
  }

  static Verifier.Report verify(Fixture f, FixtureWriter.Written w, Path onnx, int... lengths) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    f.randomFeeds(11, lengths).forEach((k, v) -> feeds.put(TensorRef.parse(k).onnxName(), v));
    return Verifier.verify(new Verifier.Options(w.graph(), w.checkpointPrefix(), onnx, f.outputs(), feeds, 1, 3, 7, 1e-5));
  }

  @Test
  void sameInputGivesByteIdenticalModelAndOpsetsFrom13To23Work() throws Exception {
    Fixture f = Fixtures.attentionBlock(VariableKind.RESOURCE);
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    byte[] first = null;
    for (int opset : new int[] {13, 17, 17, 18, 23}) {
      Path onnx = dir.resolve("m" + opset + ".onnx");
      CliRunner.Run r = CliRunner.run("convert", "--graph", w.graph().toString(), "--checkpoint",
          w.checkpointPrefix().toString(), "--output", onnx.toString(), "--opset", Integer.toString(opset));
      assertEquals(0, r.exit(), r.err());
      if (opset <= OnnxChecker.MAX_OPSET) assertNull(OnnxChecker.check(onnx), "ONNX checker at opset " + opset);
      Verifier.Report rep = verify(f, w, onnx, 5, 3, 2);
      assertTrue(rep.ok(), "opset " + opset + "\n" + rep.format());
      if (opset == 17) {
        byte[] bytes = Files.readAllBytes(onnx);
        if (first != null) assertArrayEquals(first, bytes, "conversion is deterministic");
        first = bytes;
      }
    }
  }

  @Test
  void convLengthsAreExact() {
    Fixture f = Fixtures.convFrontEnd(VariableKind.TF1);
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Path onnx = dir.resolve("conv.onnx");
    CliRunner.Run r = CliRunner.run("convert", "--graph", w.graph().toString(), "--checkpoint",
        w.checkpointPrefix().toString(), "--output", onnx.toString(), "--outputs", String.join(",", f.outputs()));
    assertEquals(0, r.exit(), r.err());
    Verifier.Report rep = verify(f, w, onnx, 9, 6, 3, 1);
    assertTrue(rep.ok(), rep.format());
    Comparison lengths = rep.comparisons().stream().filter(c -> c.name().equals(TensorRef.parse(Fixtures.CONV_OUTPUT_LENGTHS).onnxName()))
        .findFirst().orElseThrow();
    assertEquals(0.0, lengths.maxAbs());
  }
}
