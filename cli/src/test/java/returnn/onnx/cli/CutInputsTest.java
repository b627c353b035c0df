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
import returnn.onnx.onnx.OnnxReader;
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

  @Test
  void cutErrorsAreOneLine() throws Exception {
    Written w = write(3);
    Path onnx = dir.resolve("bad.onnx");
    // A string tensor cannot be a model input; a name of no tensor is refused with the closest names.
    for (String[] c : new String[][] {
        {"frontend/raw:-1", "'frontend/raw', a string tensor, which cannot be a model input"},
        {"frontend/featurez:-1x3", "'frontend/featurez', which is no tensor of the graph (did you mean: frontend/features"}}) {
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
}
