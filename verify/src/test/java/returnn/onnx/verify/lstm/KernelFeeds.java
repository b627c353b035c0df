package returnn.onnx.verify.lstm;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import returnn.onnx.fixtures.lstm.LstmRecurrence;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/**
 * Random inputs for {@link KernelGraphs#bare} graphs and the expected outputs from the plain Java recurrence. The
 * mask has holes (not a prefix of each row), so the masked-frame rules of each kernel are exercised.
 */
final class KernelFeeds {
  static final int TIME = 7;
  static final int BATCH = 3;

  private KernelFeeds() {}

  /** Feeds keyed {@code name:0} for {@code op} with the given start and step (ignored by LstmGenericBase). */
  static Map<String, Tensor> random(String op, int start, int step, long seed) {
    int n = KernelGraphs.HIDDEN;
    int f = KernelGraphs.FEATURES;
    Map<String, Tensor> m = new LinkedHashMap<>();
    boolean lowMem = op.equals("LstmLowMem");
    m.put((op.equals("LstmGenericBase") ? "z" : "x") + ":0", OpParity.normal(seed, TIME, BATCH, lowMem ? f : 4L * n));
    m.put((op.equals("LstmGenericBase") ? "v_h" : "w") + ":0", scaled(OpParity.normal(seed + 1, lowMem ? f + n : n, 4L * n), 0.5f));
    if (lowMem) m.put("b:0", scaled(OpParity.normal(seed + 2, 4L * n), 0.5f));
    if (!op.equals("LstmGenericBase")) m.put("y0:0", scaled(OpParity.normal(seed + 3, BATCH, n), 0.5f));
    m.put((op.equals("LstmGenericBase") ? "c" : "c0") + ":0", scaled(OpParity.normal(seed + 4, BATCH, n), 0.5f));
    m.put("i:0", holes(seed + 5));
    if (!op.equals("LstmGenericBase")) {
      m.put("start:0", Tensor.ofInts(new long[0], start));
      m.put("step:0", Tensor.ofInts(new long[0], step));
    }
    return m;
  }

  /** The kernel's outputs, in its output order ({@link KernelGraphs#outputs}), computed in plain Java. */
  static List<Tensor> expected(String op, Map<String, Tensor> feeds) {
    LstmRecurrence.Result r = switch (op) {
      case "NativeLstm2" -> LstmRecurrence.nativeLstm2(feeds.get("x:0"), feeds.get("w:0"), feeds.get("y0:0"),
          feeds.get("c0:0"), feeds.get("i:0"), intOf(feeds, "start:0"), intOf(feeds, "step:0"));
      case "LstmLowMem" -> LstmRecurrence.lstmLowMem(feeds.get("x:0"), feeds.get("w:0"), feeds.get("b:0"),
          feeds.get("y0:0"), feeds.get("c0:0"), feeds.get("i:0"), intOf(feeds, "start:0"), intOf(feeds, "step:0"));
      case "LstmGenericBase" -> LstmRecurrence.lstmGenericBase(feeds.get("z:0"), feeds.get("v_h:0"), feeds.get("c:0"),
          feeds.get("i:0"));
      default -> throw new IllegalArgumentException(op);
    };
    return switch (op) {
      case "NativeLstm2" -> List.of(r.y(), r.cells(), r.gates(), r.finalCell());
      case "LstmGenericBase" -> List.of(r.y(), r.gates(), r.finalCell());
      default -> List.of(r.y(), r.cells(), r.finalCell());
    };
  }

  /** A 0/1 [T,B] mask: row 0 full, row 1 a prefix of 3 frames, row 2 random with holes. */
  private static Tensor holes(long seed) {
    Random r = new Random(seed);
    float[] v = new float[TIME * BATCH];
    for (int t = 0; t < TIME; t++) {
      v[t * BATCH] = 1;
      v[t * BATCH + 1] = t < 3 ? 1 : 0;
      v[t * BATCH + 2] = r.nextBoolean() ? 1 : 0;
    }
    return Tensor.ofFloats(new long[] {TIME, BATCH}, v);
  }

  private static Tensor scaled(Tensor t, float s) {
    float[] v = t.toFloats();
    for (int i = 0; i < v.length; i++) v[i] *= s;
    return Tensor.ofFloats(t.shape(), v);
  }

  private static int intOf(Map<String, Tensor> feeds, String key) {
    return (int) feeds.get(key).getLong(0);
  }
}
