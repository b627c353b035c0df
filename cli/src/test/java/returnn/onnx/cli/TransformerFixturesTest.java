package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.transformer.TransformerFixtures;
import returnn.onnx.ir.Tensor;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Comparison;
import returnn.onnx.verify.Verifier;

/**
 * The Transformer-family fixtures end to end through the CLI: every attention layer one MultiHeadAttention, every
 * layer norm one LayerNormalization, outputs within 1e-4 of TensorFlow on padded batches (with TF's default -inf
 * masking, no NaN anywhere TF is finite), lengths exact; {@code --no-fuse} gives the plain graph with the same numbers.
 */
class TransformerFixturesTest {
  @TempDir
  Path dir;

  /** A fixture and the fused op counts it must convert to. */
  record Case(String name, Fixture fixture, int attention, int layerNorms, int softmax, int[] lengths) {}

  static List<Case> cases(VariableKind k) {
    return List.of(
        new Case("encoder_block", TransformerFixtures.encoderBlock(k), 1, 1, 0, new int[] {7, 4, 1}),
        new Case("causal_lm", TransformerFixtures.causalLm(k, 2, false), 2, 5, 1, new int[] {6, 6, 6}),
        // Encoder lengths ceil((len - 1) / 2) = 20, 15, 4: longer than the relative-position clipping (16).
        new Case("conformer", TransformerFixtures.conformer(k, TransformerFixtures.smallConformer(), 2), 2, 10, 1,
            new int[] {41, 31, 9}));
  }

  static Stream<Arguments> fusedCases() {
    List<Arguments> l = new ArrayList<>();
    for (VariableKind k : VariableKind.values()) {
      for (Case c : cases(k)) l.add(Arguments.of(c.name(), k, k == VariableKind.RESOURCE ? GraphFormat.META : GraphFormat.PB));
    }
    return l.stream();
  }

  static Case find(String name, VariableKind k) {
    return cases(k).stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("fusedCases")
  void fusesEveryAttentionAndLayerNormAndMatchesTensorFlow(String name, VariableKind kind, GraphFormat format) throws IOException {
    Case c = find(name, kind);
    FixtureWriter.Written w = c.fixture().write(dir, format);
    Path onnx = dir.resolve("fused.onnx");
    CliRunner.Run r = convert(c.fixture(), w, onnx, "--explain-fusions");
    assertTrue(r.out().contains("no fusion candidate was declined"), r.out());
    Map<String, Integer> ops = ops(onnx);
    assertEquals(c.attention(), ops.getOrDefault("com.microsoft.MultiHeadAttention", 0), ops.toString());
    assertEquals(c.layerNorms(), ops.getOrDefault("LayerNormalization", 0), ops.toString());
    assertEquals(c.softmax(), ops.getOrDefault("Softmax", 0), "only output softmaxes remain: " + ops);
    verify(c, w, onnx);
  }

  @Test
  void noFuseGivesThePlainGraphWithTheSameNumbers() throws IOException {
    Case c = find("conformer", VariableKind.RESOURCE);
    FixtureWriter.Written w = c.fixture().write(dir, GraphFormat.META);
    Path onnx = dir.resolve("plain.onnx");
    convert(c.fixture(), w, onnx, "--no-fuse");
    Map<String, Integer> ops = ops(onnx);
    assertEquals(0, ops.getOrDefault("com.microsoft.MultiHeadAttention", 0) + ops.getOrDefault("LayerNormalization", 0), ops.toString());
    assertEquals(3, ops.getOrDefault("Softmax", 0), ops.toString());
    verify(c, w, onnx);
  }

  @Test
  void opset23UsesTheStandardAttentionOp() throws IOException {
    for (Case c : cases(VariableKind.RESOURCE)) {
      FixtureWriter.Written w = c.fixture().write(dir, GraphFormat.META);
      Path onnx = dir.resolve(c.name() + "_23.onnx");
      convert(c.fixture(), w, onnx, "--opset", "23");
      Map<String, Integer> ops = ops(onnx);
      assertEquals(c.attention(), ops.getOrDefault("Attention", 0), c.name() + ": " + ops);
      assertEquals(0, ops.getOrDefault("com.microsoft.MultiHeadAttention", 0), ops.toString());
      verify(c, w, onnx);
    }
  }

  private static CliRunner.Run convert(Fixture f, FixtureWriter.Written w, Path onnx, String... extra) {
    List<String> args = new ArrayList<>(List.of("convert", "--graph", w.graph().toString(), "--checkpoint",
        w.checkpointPrefix().toString(), "--output", onnx.toString(), "--outputs", String.join(",", f.outputs())));
    args.addAll(List.of(extra));
    CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.err());
    return r;
  }

  /** Op type counts of a written model ({@code domain.op} outside the default domain). */
  static Map<String, Integer> ops(Path onnx) throws IOException {
    OnnxMl.ModelProto m = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(onnx));
    Map<String, Integer> h = new TreeMap<>();
    for (OnnxMl.NodeProto n : m.getGraph().getNodeList()) {
      h.merge(n.getDomain().isEmpty() ? n.getOpType() : n.getDomain() + "." + n.getOpType(), 1, Integer::sum);
    }
    return h;
  }

  /** Outputs within 1e-4 of TF (non-finite values must agree: no NaN where TF is finite), integer lengths exactly. */
  private static void verify(Case c, FixtureWriter.Written w, Path onnx) {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    c.fixture().randomFeeds(5, c.lengths()).forEach((k, v) -> feeds.put(TensorRef.parse(k).onnxName(), v));
    Verifier.Report rep = Verifier.verify(new Verifier.Options(w.graph(), w.checkpointPrefix(), onnx,
        c.fixture().outputs(), feeds, 1, 3, 7, 1e-4));
    assertTrue(rep.ok(), c.name() + "\n" + rep.format());
    for (Comparison cmp : rep.comparisons()) assertEquals(0, cmp.mismatchedNonFinite(), cmp.toString());
    if (c.fixture().outputs().contains(TransformerFixtures.CONFORMER_LENGTHS)) {
      String lengths = TensorRef.parse(TransformerFixtures.CONFORMER_LENGTHS).onnxName();
      assertEquals(0.0, rep.comparisons().stream().filter(x -> x.name().equals(lengths)).findFirst().orElseThrow().maxAbs());
    }
  }
}
