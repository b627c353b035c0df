package returnn.onnx.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.fixtures.lstm.LstmTwin;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfReference;
import returnn.onnx.verify.Comparison;

/**
 * The metrics the {@code bench --graph} table prints: perplexity from probabilities or logits, frame error, percentiles;
 * and the BlockLSTM LM fixture ({@code BenchCommandTest} runs the command end to end).
 */
class ModelBenchTest {
  @TempDir
  Path dir;

  /**
   * {@code --fixture lstm-lm-block} is the NativeLstm2 LM's function with TF's BlockLSTM: TF running the BlockLSTM graph
   * equals TF running the NativeLstm2 LM's twin on a padded batch, so its perplexity and the yardstick carry over.
   */
  @Test
  void blockLstmLmComputesTheNativeLmsFunction() {
    Fixture lm = LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false, LstmFixtures.Sizes.TEST);
    Fixture block = BenchFixtures.lstmLmBlock(lm, LstmFixtures.Sizes.TEST);
    FixtureWriter.Written wn = lm.writeWithoutTf(dir.resolve("native"), GraphFormat.PB);
    FixtureWriter.Written wb = block.writeWithoutTf(dir.resolve("block"), GraphFormat.PB);
    Map<String, Tensor> feeds = lm.randomFeeds(3, 6, 4, 1);
    String out = LstmFixtures.OUTPUT;
    Tensor expected = TfReference.run(LstmTwin.of(lm.graph()), wn.checkpointPrefix(), feeds, List.of(out)).get(out);
    Tensor actual = TfReference.run(block.graph(), wb.checkpointPrefix(), feeds, List.of(out)).get(out);
    Comparison c = Comparison.of(out, expected, actual);
    assertTrue(c.ok(1e-5, expected.dtype()), c.toString());
  }

  @Test
  void perplexityScoresTheNextTokenFromProbabilitiesOrLogits() {
    BenchData.Sequence s = new BenchData.Sequence(Map.of(), new int[] {0, 1, 2});
    // Frame 0 gives the next token (1) probability 0.5, frame 1 gives token 2 probability 0.25; frame 2 is not scored.
    Tensor probs = Tensor.ofFloats(new long[] {1, 3, 4}, 0.25f, 0.5f, 0.25f, 0f, 0.25f, 0.25f, 0.25f, 0.25f, 1, 0, 0, 0);
    TaskMetric m = new TaskMetric(true, 2, 1);
    m.add(0, 0, s, probs);
    assertEquals(Math.sqrt(8), m.perplexity(0), 1e-9);
    float l = (float) Math.log(2);
    Tensor logits = Tensor.ofFloats(new long[] {1, 3, 4}, 0, l, 0, Float.NEGATIVE_INFINITY, 5, 5, 5, 5, 0, 0, 0, 0);
    m.add(1, 0, s, logits);
    assertEquals(Math.sqrt(8), m.perplexity(1), 1e-6);
  }

  @Test
  void frameErrorCountsArgmaxDisagreements() {
    TaskMetric m = new TaskMetric(false, 2, 1);
    m.add(0, 0, null, Tensor.ofFloats(new long[] {1, 4, 2}, 1, 0, 1, 0, 0, 1, 0, 1));
    m.add(1, 0, null, Tensor.ofFloats(new long[] {1, 4, 2}, 1, 0, 0, 1, 0, 1, 0, 1));
    assertEquals(0.25, m.frameError(1, 0));
    assertEquals("25.00%", m.format(1, 0));
  }

  @Test
  void percentilesAreNearestRankWithTheMedianOfEvenCountsAveraged() {
    double[] v = {5, 1, 4, 2, 3, 6, 7, 8, 9, 10};
    assertEquals(5.5, BenchTable.percentile(v, 0.5));
    assertEquals(9, BenchTable.percentile(v, 0.9));
    assertEquals(3, BenchTable.percentile(new double[] {3, 1, 2, 5, 4}, 0.5));
  }
}
