package returnn.onnx.verify.lstm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.GraphDef;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.TfOps;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/**
 * TF's BlockLSTM / BlockLSTMV2 (TF1.15-era {@code lstmblockfused} layers), which TensorFlow 2.18 still runs, so TF
 * itself is the reference: fused into ONNX LSTM (gate orders icfo / ifco, forget_bias in B, peepholes as P, the
 * LSTMBlockFusedCell mask as sequence_lens, seq_len_max otherwise); declined to an exact Loop with a cell clip (TF
 * clips the cell state, ONNX's clip the gate inputs) or when gate outputs are consumed.
 */
class BlockLstmTest {
  private static final int T = 6;
  private static final int B = 3;
  private static final int F = 5;
  private static final int N = 4;

  /** How the graph around the op looks. */
  private record Options(String op, float forgetBias, float cellClip, boolean peephole, boolean masked,
      boolean initialState, boolean fetchCellStates) {
    static Options fused() {
      return new Options("BlockLSTM", 1f, -1f, false, true, false, false);
    }
  }

  @Test
  void lstmBlockFusedCellBecomesOneLstmWithSequenceLengths() {
    OpParity.Result r = check(Options.fused());
    assertEquals(1, r.count("LSTM"));
    assertEquals(0, r.count("Loop"));
    assertEquals(0, r.count("Tile"), "the h·mask Mul is sequence_lens now");
  }

  @Test
  void peepholesAndInitialStatesFuse() {
    OpParity.Result r = check(new Options("BlockLSTM", 1f, -1f, true, true, true, false));
    assertEquals(1, r.count("LSTM"));
  }

  @Test
  void blockLstmV2HasIfcoGatesAndNoForgetBias() {
    OpParity.Result r = check(new Options("BlockLSTMV2", 0f, 0f, false, true, false, false));
    assertEquals(1, r.count("LSTM"));
  }

  @Test
  void withoutTheMaskEverySequenceRunsToSeqLenMax() {
    OpParity.Result r = check(new Options("BlockLSTM", 1f, -1f, false, false, false, false));
    assertEquals(1, r.count("LSTM"));
  }

  @Test
  void cellClipIsDeclinedAndBecomesAnExactLoop() {
    OpParity.Result r = check(new Options("BlockLSTM", 1f, 0.3f, true, true, false, false));
    assertEquals(0, r.count("LSTM"));
    assertEquals(1, r.count("Loop"));
    assertTrue(r.converted().report().ruleNotes.stream().anyMatch(n -> n.contains("cell_clip 0.3")),
        r.converted().report().ruleNotes.toString());
    assertTrue(r.converted().report().warnings.stream().anyMatch(n -> n.contains("cell_clip 0.3")),
        r.converted().report().format());
  }

  @Test
  void consumedCellStatesAreDeclinedAndBecomeAnExactLoop() {
    OpParity.Result r = check(new Options("BlockLSTMV2", 0f, 0f, false, false, true, true));
    assertEquals(0, r.count("LSTM"));
    assertEquals(1, r.count("Loop"));
  }

  /**
   * x [T,B,F] → BlockLSTM(seq_len_max, x, cs0, h0, w, wci, wcf, wco, b) → h, masked as LSTMBlockFusedCell does
   * ({@code h * Tile(ExpandDims(Transpose(Cast(sequence_mask(L, T))), -1), [1,1,n])} with {@code seq_len_max =
   * Cast(Max(L))}) or not (seq_len_max fed); run in TF and converted.
   */
  private static OpParity.Result check(Options o) {
    GraphDefBuilder b = new GraphDefBuilder();
    TfOps tf = new TfOps(b);
    String x = b.placeholder("x", DType.FLOAT, -1, -1, F).name();
    String lengths = b.placeholder("lengths", DType.INT32, -1).name();
    String maxLen;
    if (o.masked()) {
      String max = b.op("Max", "Max", lengths, tf.constant("Max/reduction_indices", Tensor.ofInts(new long[] {1}, 0)))
          .attr("T", DType.INT32).attr("Tidx", DType.INT32).attr("keep_dims", false).outType(DType.INT32).name();
      maxLen = tf.cast(max, DType.INT64);
    } else {
      maxLen = b.placeholder("seq_len_max", DType.INT64).name();
    }
    String cs0 = o.initialState() ? b.placeholder("cs0", DType.FLOAT, -1, N).name() : zeros(tf, x);
    String h0 = o.initialState() ? b.placeholder("h0", DType.FLOAT, -1, N).name() : zeros(tf, x);
    String w = tf.constant("w", scaled(OpParity.normal(1, F + N, 4 * N), 0.4f));
    String bias = tf.constant("b", scaled(OpParity.normal(2, 4 * N), 0.4f));
    String[] peep = new String[3];
    for (int i = 0; i < 3; i++) {
      Tensor v = o.peephole() ? scaled(OpParity.normal(3 + i, N), 0.5f) : Tensor.ofFloats(new long[] {N}, new float[N]);
      peep[i] = tf.constant("peephole_" + i, v);
    }
    GraphDefBuilder.Node block = b.op(o.op(), o.op(), maxLen, x, cs0, h0, w, peep[0], peep[1], peep[2], bias)
        .attr("T", DType.FLOAT).attr("cell_clip", o.cellClip()).attr("use_peephole", o.peephole());
    if (o.op().equals("BlockLSTM")) block.attr("forget_bias", o.forgetBias());
    for (int i = 0; i < 7; i++) block.outType(i, DType.FLOAT);
    String y = block.out(6);
    if (o.masked()) {
      String time = tf.index(tf.shape(x), 0);
      String mask = tf.transpose(tf.cast(tf.sequenceMask(lengths, time), DType.FLOAT), 1, 0);
      String tiled = b.op("Tile", "Tile", tf.expandDims(mask, -1), tf.constant("Tile/multiples",
          Tensor.ofInts(new long[] {3}, 1, 1, N))).attr("T", DType.FLOAT).attr("Tmultiples", DType.INT32)
          .outType(DType.FLOAT).name();
      y = tf.mul(y, tiled);
    }
    tf.identity("y", y);
    List<String> outputs = o.fetchCellStates() ? List.of("y", block.out(1)) : List.of("y");
    GraphDef g = b.build();
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    feeds.put("x:0", OpParity.normal(7, T, B, F));
    feeds.put("lengths:0", Tensor.ofInts(new long[] {B}, T, 3, 0));
    if (!o.masked()) feeds.put("seq_len_max:0", Tensor.ofLongs(new long[0], T - 2));
    if (o.initialState()) {
      feeds.put("cs0:0", scaled(OpParity.normal(8, B, N), 0.5f));
      feeds.put("h0:0", scaled(OpParity.normal(9, B, N), 0.5f));
    }
    return OpParity.check(g, feeds, outputs, 1e-5, 17);
  }

  /** {@code tf.zeros([batch, n])} with the batch size taken from x at run time. */
  private static String zeros(TfOps tf, String x) {
    String batch = tf.index(tf.shape(x), 1);
    return tf.builder().op("Fill", "zeros", tf.pack("zeros/packed", List.of(batch, N)), tf.scalarFloat("zeros/Const", 0f))
        .attr("T", DType.FLOAT).attr("index_type", DType.INT32).outType(DType.FLOAT).name();
  }

  private static Tensor scaled(Tensor t, float s) {
    float[] v = t.toFloats();
    for (int i = 0; i < v.length; i++) v[i] *= s;
    return Tensor.ofFloats(t.shape(), v);
  }
}
