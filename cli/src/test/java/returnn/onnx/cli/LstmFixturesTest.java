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
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.fixtures.lstm.LstmFixtures.Sizes;
import returnn.onnx.fixtures.lstm.LstmFixtures.Unit;
import returnn.onnx.fixtures.lstm.LstmTwin;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Comparison;

/**
 * The LSTM model fixtures (NativeLstm2 LM, with and without state I/O; BlockLSTM LM; BiLSTM), both variable kinds,
 * as {@code .meta} files with the custom OpDefs in the stripped op list, converted through the CLI: the fused model
 * has one LSTM per layer (per fw/bw pair) and no Loop, {@code --no-fuse} has Loops instead, and both match the
 * reference on a padded batch to 1e-5. The reference is the TF twin (each NativeLstm2 a TF while loop) for NativeLstm2
 * graphs, and TensorFlow running the graph itself for BlockLSTM.
 */
class LstmFixturesTest {
  private static final int[] LENGTHS = {7, 4, 0, 1};

  @TempDir
  Path dir;

  static Stream<String> modelNames() {
    return Stream.of("lm_native", "lm_native_state", "lm_block", "bilstm");
  }

  static Stream<Arguments> models() {
    return modelNames().flatMap(m -> Stream.of(VariableKind.values()).map(k -> Arguments.of(m, k)));
  }

  static Fixture fixture(String model, VariableKind kind) {
    return switch (model) {
      case "lm_native" -> LstmFixtures.languageModel(kind, Unit.NATIVE_LSTM2, false, Sizes.TEST);
      case "lm_native_state" -> LstmFixtures.languageModel(kind, Unit.NATIVE_LSTM2, true, Sizes.TEST);
      case "lm_block" -> LstmFixtures.languageModel(kind, Unit.BLOCK_LSTM, false, Sizes.TEST);
      case "bilstm" -> LstmFixtures.biLstm(kind);
      default -> throw new IllegalArgumentException(model);
    };
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("models")
  void fusesEveryLayerIntoOneLstmAndMatchesTheReference(String model, VariableKind kind) throws IOException {
    Fixture f = fixture(model, kind);
    Path onnx = dir.resolve("fused.onnx");
    CliRunner.Run r = convert(f, onnx);
    assertTrue(r.out().contains("fused:") && r.out().contains("LstmRules."), r.out());
    Map<String, Integer> ops = histogram(onnx);
    int expected = model.equals("bilstm") ? 2 : Sizes.TEST.layers();
    assertEquals(expected, ops.getOrDefault("LSTM", 0), ops.toString());
    assertEquals(0, ops.getOrDefault("Loop", 0), ops.toString());
    if (model.equals("bilstm")) assertEquals(0, concatsOfLstmOutputs(onnx), "ConcatV2 of fw/bw became Y's Reshape");
    if (model.equals("lm_native_state")) assertEquals(0, ops.getOrDefault("GatherND", 0), "final h is Y_h: " + ops);
    assertMatchesReference(f, onnx);
  }

  /** The variable kind does not touch the kernels' Loops; one kind keeps this fast. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("modelNames")
  void noFuseConvertsEachKernelToALoop(String model) throws IOException {
    Fixture f = fixture(model, VariableKind.RESOURCE);
    Path onnx = dir.resolve("loops.onnx");
    convert(f, onnx, "--no-fuse");
    Map<String, Integer> ops = histogram(onnx);
    assertEquals(0, ops.getOrDefault("LSTM", 0), ops.toString());
    assertEquals(model.equals("bilstm") ? 4 : Sizes.TEST.layers(), ops.getOrDefault("Loop", 0), ops.toString());
    assertMatchesReference(f, onnx);
  }

  private CliRunner.Run convert(Fixture f, Path onnx, String... extra) {
    FixtureWriter.Written w = f.write(dir, GraphFormat.META);
    List<String> args = new ArrayList<>(List.of("convert", "--graph", w.graph().toString(), "--checkpoint",
        w.checkpointPrefix().toString(), "--output", onnx.toString(), "--outputs", String.join(",", f.outputs())));
    args.addAll(List.of(extra));
    CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.out() + r.err());
    return r;
  }

  private void assertMatchesReference(Fixture f, Path onnx) {
    Map<String, Tensor> feeds = f.randomFeeds(3, LENGTHS);
    boolean custom = f.graph().getNodeList().stream().anyMatch(n -> n.getOp().equals("NativeLstm2"));
    Path ckpt = dir.resolve("net-model").resolve(f.name() + "_" + f.kind().name().toLowerCase(java.util.Locale.ROOT))
        .resolve(FixtureWriter.CHECKPOINT_NAME);
    Map<String, Tensor> expected = TfReference.run(custom ? LstmTwin.of(f.graph()) : f.graph(), ckpt, feeds, f.outputs());
    Map<String, Tensor> ortFeeds = new LinkedHashMap<>();
    feeds.forEach((k, v) -> ortFeeds.put(TensorRef.parse(k).onnxName(), v));
    try (OnnxSession s = OnnxSession.open(onnx, OnnxSession.Options.defaults())) {
      Map<String, Tensor> actual = s.run(ortFeeds);
      for (String out : f.outputs()) {
        String name = TensorRef.parse(out).onnxName();
        Comparison c = Comparison.of(name, expected.get(out), actual.get(name));
        assertTrue(c.ok(1e-5, expected.get(out).dtype()), c.toString());
      }
    }
  }

  static Map<String, Integer> histogram(Path onnx) throws IOException {
    Map<String, Integer> h = new TreeMap<>();
    count(OnnxMl.ModelProto.parseFrom(Files.readAllBytes(onnx)).getGraph(), h);
    return h;
  }

  /** Concat nodes reading (through Squeeze/Slice/Transpose/Reshape) an LSTM output. */
  static int concatsOfLstmOutputs(Path onnx) throws IOException {
    OnnxMl.GraphProto g = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(onnx)).getGraph();
    Map<String, OnnxMl.NodeProto> producer = new java.util.HashMap<>();
    for (OnnxMl.NodeProto n : g.getNodeList()) for (String o : n.getOutputList()) producer.put(o, n);
    int found = 0;
    for (OnnxMl.NodeProto n : g.getNodeList()) {
      if (!n.getOpType().equals("Concat")) continue;
      for (String in : n.getInputList()) {
        OnnxMl.NodeProto p = producer.get(in);
        while (p != null && List.of("Squeeze", "Slice", "Transpose", "Reshape").contains(p.getOpType())) {
          p = producer.get(p.getInput(0));
        }
        if (p != null && p.getOpType().equals("LSTM")) {
          found++;
          break;
        }
      }
    }
    return found;
  }

  private static void count(OnnxMl.GraphProto g, Map<String, Integer> h) {
    for (OnnxMl.NodeProto n : g.getNodeList()) {
      h.merge(n.getOpType(), 1, Integer::sum);
      for (OnnxMl.AttributeProto a : n.getAttributeList()) if (a.hasG()) count(a.getG(), h);
    }
  }
}
