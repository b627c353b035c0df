package returnn.onnx.verify.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.fixtures.lstm.LstmFixtures.Sizes;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.rewrite.layout.TransposeHoistRule;
import returnn.onnx.tf.TensorRef;
import returnn.onnx.verify.Verifier;

/**
 * RETURNN's time-major output layer and its {@code output_batch_major} Transpose: the Transpose moves above the
 * vocabulary projection when that makes the copy smaller, and the model still equals TensorFlow (BlockLSTM LM, which TF
 * runs itself) on a padded batch.
 */
class TransposeHoistTest {
  @TempDir
  Path dir;

  /** Vocabulary 40 > hidden 24: the Transpose now copies [T,B,24] instead of [T,B,40]. */
  @Test
  void movesTheOutputTransposeAboveAWideningProjection() {
    Fixture f = LstmFixtures.languageModel(VariableKind.TF1, LstmFixtures.Unit.BLOCK_LSTM, false, new Sizes(40, 16, 24, 2));
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    assertEquals(1, r.report().rulesFired.getOrDefault(TransposeHoistRule.NAME, 0), r.report().rulesFired.toString());
    Graph g = r.graph();
    Node out = g.outputs().get(0).producer();
    assertEquals("Softmax", out.op(), "the output is the Softmax itself, no copy after it");
    Node matMul = out.input(0).producer().input(0).producer();
    assertEquals("MatMul", matMul.op());
    Node t = matMul.input(0).producer();
    assertEquals("Transpose", t.op(), "the projection reads the transposed LSTM output");
    assertEquals(24, t.output(0).shape().dim(2).value());
    Path onnx = dir.resolve("m.onnx");
    r.write(onnx);
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    f.randomFeeds(7, 5, 0, 3).forEach((k, v) -> feeds.put(TensorRef.parse(k).onnxName(), v));
    Verifier.Report rep = Verifier.verify(new Verifier.Options(w.graph(), w.checkpointPrefix(), onnx, f.outputs(), feeds, 1, 3, 7, 1e-5));
    assertTrue(rep.ok(), rep.format());
  }

  /** Vocabulary 20 < hidden 24 (moving would copy more), and --no-fuse: the Transpose stays last. */
  @Test
  void leavesTheTransposeWhereMovingGainsNothing() {
    Fixture small = LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.BLOCK_LSTM, false, Sizes.TEST);
    FixtureWriter.Written ws = small.write(dir.resolve("small"), GraphFormat.PB);
    Converter.Result r = Converter.convert(ConvertOptions.of(ws.graph(), ws.checkpointPrefix(), small.outputs()));
    assertNull(r.report().rulesFired.get(TransposeHoistRule.NAME));
    assertEquals("Transpose", r.graph().outputs().get(0).producer().op());

    Fixture wide = LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.BLOCK_LSTM, false, new Sizes(40, 16, 24, 2));
    FixtureWriter.Written ww = wide.write(dir.resolve("wide"), GraphFormat.PB);
    Converter.Result plain = Converter.convert(ConvertOptions.of(ww.graph(), ww.checkpointPrefix(), wide.outputs()).withFuse(false));
    assertNull(plain.report().rulesFired.get(TransposeHoistRule.NAME));
    assertEquals("Transpose", plain.graph().outputs().get(0).producer().op());
  }
}
