package returnn.onnx.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.fixtures.transformer.TransformerFixtures;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/**
 * The models of {@code bench --fixture}: the test fixtures at the users' sizes, with their N(0, 0.1) random weights
 * rescaled to the statistics of trained models, so that perplexity and frame agreement mean something. Weights are
 * scaled as RETURNN initializes them (variance scaling by fan-in, std 1/sqrt(fan_in)): at 0.1, a 512-unit LSTM's
 * recurrence has gain 2.3 and is chaotic, and a 1024-wide feed-forward layer doubles its input's size, which trained
 * networks do not do; every rounding error then grows without bound, and a random Conformer's output distribution is
 * so flat (median top-1/top-2 probability margin 0.07) that any change of weights flips a tenth of its frames.
 */
final class BenchFixtures {
  /** The LM: vocabulary 10k, embedding and 2 LSTM layers of 512, as in the users' setups. */
  static final LstmFixtures.Sizes LM_SIZES = new LstmFixtures.Sizes(10_000, 512, 512, 2);
  static final int CONFORMER_BLOCKS = 6;

  private BenchFixtures() {}

  /**
   * The NativeLstm2 LM; besides its LSTM weights, embeddings of unit variance and output weights of std 1.6, so that
   * text sampled from it has a perplexity near 80, as trained word-level LMs have (at 0.1 the next-token distribution is
   * close to uniform).
   */
  static Fixture lstmLm() {
    Fixture f = LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.NATIVE_LSTM2, false, LM_SIZES);
    Map<String, Tensor> c = new LinkedHashMap<>(f.checkpoint());
    c.put("input/W", withStd(c.get("input/W"), 1));
    for (int k = 0; k < LM_SIZES.layers(); k++) {
      for (String w : List.of("W", "W_re")) c.compute("lstm" + k + "/rec/" + w, (name, t) -> fanIn(t));
    }
    c.put("output/W", withStd(c.get("output/W"), 1.6));
    return new Fixture(f.name(), f.kind(), f.graph(), f.inputs(), f.outputs(), c);
  }

  /**
   * The same LM built with TF's fused {@code BlockLSTM} kernel (RETURNN's {@code lstmblockfused}), which TF runs itself:
   * no twin in the TF row. Its weights are {@link #lstmLm()}'s in TF's layout, so both compute the same function:
   * kernel = [W; W_re] with the gate blocks j, i, f, o of RETURNN reordered to TF's i, c (= j), f, o, and the forget
   * gate's bias lowered by the kernel's forget_bias 1.0.
   */
  static Fixture lstmLmBlock(Fixture nativeLm, LstmFixtures.Sizes sizes) {
    Fixture f = LstmFixtures.languageModel(VariableKind.RESOURCE, LstmFixtures.Unit.BLOCK_LSTM, false, sizes);
    Map<String, Tensor> c = new LinkedHashMap<>(f.checkpoint());
    Map<String, Tensor> n = nativeLm.checkpoint();
    for (String shared : List.of("input/W", "output/W", "output/b")) c.put(shared, n.get(shared));
    int h = sizes.hidden();
    for (int k = 0; k < sizes.layers(); k++) {
      String rec = "lstm" + k + "/rec/";
      float[] w = n.get(rec + "W").toFloats(), wRe = n.get(rec + "W_re").toFloats(), b = n.get(rec + "b").toFloats();
      int in = w.length / (4 * h);
      float[] kernel = new float[(in + h) * 4 * h];
      float[] bias = new float[4 * h];
      for (int block = 0; block < 4; block++) {
        int from = TF_ICFO_FROM_RETURNN[block];
        for (int j = 0; j < h; j++) {
          for (int r = 0; r < in; r++) kernel[r * 4 * h + block * h + j] = w[r * 4 * h + from * h + j];
          for (int r = 0; r < h; r++) kernel[(in + r) * 4 * h + block * h + j] = wRe[r * 4 * h + from * h + j];
          bias[block * h + j] = b[from * h + j] - (block == 2 ? 1f : 0f);
        }
      }
      c.put(rec + "lstm_fused_cell/kernel", Tensor.ofFloats(new long[] {in + h, 4L * h}, kernel));
      c.put(rec + "lstm_fused_cell/bias", Tensor.ofFloats(new long[] {4L * h}, bias));
    }
    return new Fixture(f.name(), f.kind(), f.graph(), f.inputs(), f.outputs(), c);
  }

  /** TF's gate blocks i, c, f, o as RETURNN's block indices (j, i, f, o). */
  private static final int[] TF_ICFO_FROM_RETURNN = {1, 0, 2, 3};

  /** The bench Conformer (d 256, 4 heads, ff 1024, kernel 31); every matrix but the output layer's scaled by fan-in. */
  static Fixture conformer() {
    Fixture f = TransformerFixtures.conformer(VariableKind.RESOURCE, TransformerFixtures.benchConformer(), CONFORMER_BLOCKS);
    Map<String, Tensor> c = new LinkedHashMap<>(f.checkpoint());
    c.replaceAll((name, t) -> t.dtype() == DType.FLOAT && t.rank() == 2 && !name.startsWith("output/") ? fanIn(t) : t);
    return new Fixture(f.name(), f.kind(), f.graph(), f.inputs(), f.outputs(), c);
  }

  private static Tensor fanIn(Tensor t) {
    return withStd(t, 1 / Math.sqrt(t.shape()[0]));
  }

  private static Tensor withStd(Tensor t, double std) {
    float[] v = t.toFloats();
    double sq = 0;
    for (float x : v) sq += (double) x * x;
    float k = (float) (std / Math.sqrt(sq / v.length));
    for (int i = 0; i < v.length; i++) v[i] *= k;
    return Tensor.ofFloats(t.shape(), v);
  }
}
