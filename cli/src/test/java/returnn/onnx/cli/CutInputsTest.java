package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.TfOps;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.Variables;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.io.OnnxReader;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.checkpoint.CheckpointWriter;
import returnn.onnx.verify.Comparison;
import returnn.onnx.verify.Verifier;

/**
 * {@code --inputs} naming a tensor that is not a placeholder: the graph is cut there, as tf2onnx's {@code --inputs}
 * does, for SavedModels fed serialized examples and for front ends. The fixture: a string placeholder parsed by
 * {@code StringToNumber} (no ONNX form), reshaped and scaled by a front-end variable that the checkpoint does not
 * hold, then a dense softmax layer whose variables it holds. Cut at {@code frontend/features}, the model has that
 * input, and TF fed at the same tensor gives the same outputs; verify runs it (TF restores only what the outputs
 * need given the feed, so the front end's missing variable is no error).
 */
class CutInputsTest {
  @TempDir Path dir;

  private static Tensor normal(long seed, long... shape) {
    Random r = new Random(seed);
    float[] v = new float[(int) Tensor.count(shape)];
    for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
    return Tensor.ofFloats(shape, v);
  }

  private record Written(Path graph, Path checkpoint) {}

  private Written write(int features) throws Exception {
    return write(features, false);
  }

  /** With {@code frontendVariable}, the checkpoint also holds the front end's variable. */
  private Written write(int features, boolean frontendVariable) throws Exception {
    GraphDefBuilder b = new GraphDefBuilder();
    TfOps tf = new TfOps(b);
    Variables vars = new Variables(b, VariableKind.TF1, 7);
    String serialized = b.placeholder("serialized", DType.STRING, -1).name();
    String raw = b.op("Identity", "frontend/raw", serialized).attr("T", DType.STRING).outType(DType.STRING).name();
    String numbers = b.op("StringToNumber", "frontend/StringToNumber", raw).attr("out_type", DType.FLOAT)
        .outType(DType.FLOAT).name();
    String reshaped = tf.reshape(numbers, -1, features);
    String scale = vars.weight("frontend/scale", features);
    b.op("Mul", "frontend/features", reshaped, scale).attr("T", DType.FLOAT).outType(DType.FLOAT);
    String w = vars.weight("dense/W", features, 4);
    String bias = vars.weight("dense/b", 4);
    String h = b.op("MatMul", "dense/MatMul", "frontend/features", w).attr("T", DType.FLOAT)
        .attr("transpose_a", false).attr("transpose_b", false).outType(DType.FLOAT).name();
    String logits = b.op("BiasAdd", "dense/BiasAdd", h, bias).attr("T", DType.FLOAT).outType(DType.FLOAT).name();
    b.op("Softmax", "output", logits).attr("T", DType.FLOAT).outType(DType.FLOAT);
    Path pb = dir.resolve("graph.pb");
    Files.write(pb, b.build().toByteArray());
    Map<String, Tensor> values = new java.util.LinkedHashMap<>(vars.checkpointValues());
    if (!frontendVariable) assertTrue(values.remove("frontend/scale") != null);
    Path ckpt = dir.resolve("ckpt/model");
    CheckpointWriter.write(ckpt, values);
    return new Written(pb, ckpt);
  }

  @Test
  void convertCutsAtATensorAndVerifyFeedsTfThere() throws Exception {
    Written w = write(3);
    Path onnx = dir.resolve("cut.onnx");
    CliRunner.Run r = CliRunner.run("convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpoint().toString(),
        "--outputs", "output", "--inputs", "frontend/features:0:-1x3", "--output", onnx.toString());
    assertEquals(0, r.exit(), r.err() + r.out());
    List<Value> inputs = OnnxReader.read(onnx).graph().inputs();
    assertEquals(List.of("frontend/features"), inputs.stream().map(Value::name).toList());
    assertEquals(DType.FLOAT, inputs.get(0).dtype());
    assertEquals(3, inputs.get(0).shape().dim(1).value());

    // The same tensor fed to TF and to the model: the same softmax.
    Tensor x = normal(11, 5, 3);
    Tensor tf = TfReference.run(returnn.onnx.tf.GraphReader.read(w.graph()).graph(), w.checkpoint(),
        Map.of("frontend/features:0", x), List.of("output")).get("output");
    Tensor ort;
    try (OnnxSession s = OnnxSession.open(onnx, OnnxSession.Options.defaults())) {
      ort = s.run(Map.of("frontend/features", x)).get("output");
    }
    Comparison c = Comparison.of("output", tf, ort);
    assertTrue(c.ok(1e-5, DType.FLOAT), c.toString());
    assertTrue(c.maxAbs() < 1e-6, c.toString());
    // Not vacuous: a model fed other features is far off.
    try (OnnxSession s = OnnxSession.open(onnx, OnnxSession.Options.defaults())) {
      Tensor other = s.run(Map.of("frontend/features", normal(12, 5, 3))).get("output");
      assertFalse(Comparison.of("output", tf, other).ok(1e-5, DType.FLOAT));
    }

    CliRunner.Run v = CliRunner.run("verify", "--graph", w.graph().toString(), "--checkpoint", w.checkpoint().toString(),
        "--onnx", onnx.toString());
    assertEquals(0, v.exit(), v.out() + v.err());
    assertTrue(v.out().contains("  frontend/features float[3, 3]"), v.out());
    assertTrue(v.out().contains("verify: PASS"), v.out());
    // verify --inputs sets the generated shape (batch 6 here) the same way.
    CliRunner.Run v6 = CliRunner.run("verify", "--graph", w.graph().toString(), "--checkpoint",
        w.checkpoint().toString(), "--onnx", onnx.toString(), "--inputs", "frontend/features:6x3");
    assertEquals(0, v6.exit(), v6.out() + v6.err());
    assertTrue(v6.out().contains("  frontend/features float[6, 3]"), v6.out());
  }

  /** A cut behind another cut (the outputs never reach it) cuts nothing: a warning line says so. */
  @Test
  void cutTheOutputsDoNotNeedIsAWarning() throws Exception {
    Written w = write(3);
    Path onnx = dir.resolve("warn.onnx");
    CliRunner.Run r = CliRunner.run("convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpoint().toString(),
        "--outputs", "output", "--inputs", "frontend/features:-1x3,frontend/StringToNumber:-1", "--output", onnx.toString());
    assertEquals(0, r.exit(), r.err() + r.out());
    assertTrue(r.out().contains("warning: --inputs names 'frontend/StringToNumber', which the outputs do not need"), r.out());
    assertEquals(List.of("frontend/features"), OnnxReader.read(onnx).graph().inputs().stream().map(Value::name).toList());
  }

  @Test
  void cutErrorsAreOneLine() throws Exception {
    Written w = write(3);
    Path onnx = dir.resolve("bad.onnx");
    // A string tensor cannot be a model input; a name of no tensor is refused with the closest names.
    for (String[] c : new String[][] {
        {"frontend/raw:-1", "'frontend/raw', a string tensor, which cannot be a model input"},
        {"frontend/featurez:-1x3", "'frontend/featurez', which is no node of the graph (did you mean: frontend/features"}}) {
      CliRunner.Run r = CliRunner.run("convert", "--graph", w.graph().toString(), "--checkpoint",
          w.checkpoint().toString(), "--outputs", "output", "--inputs", c[0], "--output", onnx.toString());
      assertEquals(1, r.exit(), c[0] + ": " + r.out());
      assertTrue(r.err().startsWith("error: ") && r.err().contains(c[1]), c[0] + ": " + r.err());
      assertEquals(1, r.err().lines().filter(l -> !l.isBlank()).count(), r.err());
      assertFalse(Files.exists(onnx));
    }
  }

  /**
   * A SavedModel as TF writes them for serving, with what the outputs do not need: a variable the checkpoint does
   * not hold (an optimizer slot), its initializer, and the saver nodes ({@code save/Const} is the filename tensor).
   * verify restores only what the outputs need (before: every variable, and failed on the slot), and the model is
   * cut at the front end's output as above.
   */
  @Test
  void savedModelWithUnusedVariablesVerifies() throws Exception {
    Written w = write(3, true);
    Path sm = dir.resolve("saved");
    returnn.onnx.tf.savedmodel.SavedModelExporter.export(new returnn.onnx.tf.savedmodel.SavedModelExporter.Options(
        w.graph(), w.checkpoint(), List.of("output"), sm));
    Path pb = sm.resolve("saved_model.pb");
    org.tensorflow.proto.SavedModel saved = org.tensorflow.proto.SavedModel.parseFrom(Files.readAllBytes(pb));
    org.tensorflow.proto.GraphDef g = saved.getMetaGraphs(0).getGraphDef();
    GraphDefBuilder extra = GraphDefBuilder.of(g);
    new Variables(extra, VariableKind.TF1, 9).weight("dense/W/Adam", 3, 4);
    org.tensorflow.proto.SavedModel patched = saved.toBuilder().setMetaGraphs(0,
        saved.getMetaGraphs(0).toBuilder().setGraphDef(extra.build())).build();
    Files.write(pb, patched.toByteArray());
    assertTrue(patched.getMetaGraphs(0).getGraphDef().getNodeList().stream()
        .anyMatch(n -> n.getName().equals("dense/W/Adam")));

    Path onnx = dir.resolve("sm.onnx");
    CliRunner.Run r = CliRunner.run("convert", "--graph", sm.toString(), "--outputs", "output",
        "--inputs", "frontend/features:-1x3", "--output", onnx.toString());
    assertEquals(0, r.exit(), r.err() + r.out());
    CliRunner.Run v = CliRunner.run("verify", "--graph", sm.toString(), "--onnx", onnx.toString());
    assertEquals(0, v.exit(), v.out() + v.err());
    assertTrue(v.out().contains("verify: PASS"), v.out());
  }

  /**
   * A serving graph fed serialized tf.Examples: {@code ParseExampleV2} with one sparse int64 feature and one dense
   * float feature [3], so the dense values are output 3 ({@code :3} kept in the ONNX name, dtype from the op's
   * {@code Tdense}, as a .pb carries no OpDefs). Cut there, the model given the parsed features gives what TF gives
   * end to end from the serialized examples.
   */
  @Test
  void parseExampleFrontEndIsCutAway() throws Exception {
    GraphDefBuilder b = new GraphDefBuilder();
    TfOps tf = new TfOps(b);
    Variables vars = new Variables(b, VariableKind.RESOURCE, 5);
    String serialized = b.placeholder("serialized", DType.STRING, -1).name();
    String noNames = b.constant("parse/names", Tensor.ofStrings(new long[] {0}, List.of())).name();
    String sparseKeys = b.constant("parse/sparse_keys", Tensor.ofStrings(new long[] {1}, List.of(utf8("ids")))).name();
    String denseKeys = b.constant("parse/dense_keys", Tensor.ofStrings(new long[] {1}, List.of(utf8("x")))).name();
    String raggedKeys = b.constant("parse/ragged_keys", Tensor.ofStrings(new long[] {0}, List.of())).name();
    String noDefault = b.constant("parse/x_default", Tensor.ofFloats(new long[] {0})).name();
    org.tensorflow.proto.AttrValue denseShapes = org.tensorflow.proto.AttrValue.newBuilder().setList(
        org.tensorflow.proto.AttrValue.ListValue.newBuilder().addShape(org.tensorflow.proto.TensorShapeProto.newBuilder()
            .addDim(org.tensorflow.proto.TensorShapeProto.Dim.newBuilder().setSize(3)))).build();
    GraphDefBuilder.Node parse = b.op("ParseExampleV2", "parse/ParseExampleV2", serialized, noNames, sparseKeys,
        denseKeys, raggedKeys, noDefault).attr("num_sparse", 1L).attrTypes("sparse_types", List.of(DType.INT64))
        .attrTypes("Tdense", List.of(DType.FLOAT)).attrTypes("ragged_value_types", List.of())
        .attrTypes("ragged_split_types", List.of()).attr("dense_shapes", denseShapes);
    parse.outType(0, DType.INT64).outType(1, DType.INT64).outType(2, DType.INT64).outType(3, DType.FLOAT);
    String w = vars.weight("dense/W", 3, 4);
    String h = b.op("MatMul", "dense/MatMul", "parse/ParseExampleV2:3", w).attr("T", DType.FLOAT)
        .attr("transpose_a", false).attr("transpose_b", false).outType(DType.FLOAT).name();
    tf.identity("scores", tf.tanh(h));
    org.tensorflow.proto.GraphDef g = b.build();
    Path pb = dir.resolve("serving.pb");
    Files.write(pb, g.toByteArray());
    Path ckpt = dir.resolve("ckpt/serving");
    CheckpointWriter.write(ckpt, vars.checkpointValues());

    Path onnx = dir.resolve("serving.onnx");
    CliRunner.Run r = CliRunner.run("convert", "--graph", pb.toString(), "--checkpoint", ckpt.toString(),
        "--outputs", "scores", "--inputs", "parse/ParseExampleV2:3:-1x3", "--output", onnx.toString());
    assertEquals(0, r.exit(), r.err() + r.out());
    List<Value> inputs = OnnxReader.read(onnx).graph().inputs();
    assertEquals(List.of("parse/ParseExampleV2:3"), inputs.stream().map(Value::name).toList());
    assertFalse(r.out().contains("ParseExampleV2 "), "the parser is not converted: " + r.out());

    // TF end to end from serialized examples vs the model fed the parsed features.
    float[][] rows = {{0.5f, -1f, 2f}, {3f, 0.25f, -0.75f}};
    List<byte[]> examples = new java.util.ArrayList<>();
    float[] flat = new float[6];
    for (int i = 0; i < rows.length; i++) {
      org.tensorflow.proto.FloatList.Builder fl = org.tensorflow.proto.FloatList.newBuilder();
      for (int j = 0; j < 3; j++) {
        fl.addValue(rows[i][j]);
        flat[3 * i + j] = rows[i][j];
      }
      examples.add(org.tensorflow.proto.Example.newBuilder().setFeatures(org.tensorflow.proto.Features.newBuilder()
          .putFeature("x", org.tensorflow.proto.Feature.newBuilder().setFloatList(fl).build())
          .putFeature("ids", org.tensorflow.proto.Feature.newBuilder().setInt64List(
              org.tensorflow.proto.Int64List.newBuilder().addValue(i + 7)).build())).build().toByteArray());
    }
    Tensor tfScores = TfReference.run(g, ckpt, Map.of("serialized", Tensor.ofStrings(new long[] {2}, examples)),
        List.of("scores")).get("scores");
    Tensor ortScores;
    try (OnnxSession s = OnnxSession.open(onnx, OnnxSession.Options.defaults())) {
      ortScores = s.run(Map.of("parse/ParseExampleV2:3", Tensor.ofFloats(new long[] {2, 3}, flat))).get("scores");
    }
    Comparison c = Comparison.of("scores", tfScores, ortScores);
    assertTrue(c.ok(1e-5, DType.FLOAT) && c.maxAbs() < 1e-6, c.toString());
    assertTrue(Math.abs(tfScores.getDouble(0)) > 1e-3, "a score that means something: " + tfScores.getDouble(0));

    CliRunner.Run v = CliRunner.run("verify", "--graph", pb.toString(), "--checkpoint", ckpt.toString(),
        "--onnx", onnx.toString());
    assertEquals(0, v.exit(), v.out() + v.err());
    assertTrue(v.out().contains("  parse/ParseExampleV2:3 float[3, 3]") && v.out().contains("verify: PASS"), v.out());
  }

  private static byte[] utf8(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }
}
