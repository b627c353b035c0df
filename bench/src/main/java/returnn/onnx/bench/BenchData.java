package returnn.onnx.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.runtime.OnnxSession;

/**
 * The evaluation data of {@code bench --graph}: one call per sequence (batch 1), feeds keyed by TF tensor name
 * ({@code name:0}). Token sequences (language models) come from a file, are sampled from the model itself, or are
 * random; feature sequences (acoustic models) are Gaussian.
 */
final class BenchData {
  /** One call's feeds, and its token ids for LMs (null for features). */
  record Sequence(Map<String, Tensor> feeds, int[] tokens) {}

  private BenchData() {}

  /** Token-id lines: one sequence per line, ids separated by spaces. */
  static List<int[]> readIds(Path file) throws IOException {
    List<int[]> seqs = new ArrayList<>();
    int line = 0;
    for (String l : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      line++;
      if (l.isBlank()) continue;
      try {
        seqs.add(Arrays.stream(l.trim().split("\\s+")).mapToInt(Integer::parseInt).toArray());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(file + ":" + line + ": expected token ids separated by spaces, got '" + l + "'");
      }
    }
    if (seqs.isEmpty()) throw new IllegalArgumentException(file + ": no sequences");
    return seqs;
  }

  static void writeIds(Path file, List<int[]> seqs) throws IOException {
    List<String> lines = new ArrayList<>();
    for (int[] s : seqs) lines.add(String.join(" ", Arrays.stream(s).mapToObj(Integer::toString).toList()));
    Files.write(file, lines, StandardCharsets.UTF_8);
  }

  static List<int[]> randomIds(int count, int length, int vocab, long seed) {
    Random r = new Random(seed);
    List<int[]> seqs = new ArrayList<>();
    for (int i = 0; i < count; i++) seqs.add(r.ints(length, 0, vocab).toArray());
    return seqs;
  }

  /**
   * {@code count} sequences sampled from an LM step model ({@link HandWrittenLm#step}), all at once as one batch: the
   * first token uniform, each next one drawn from the model's distribution after the tokens before it.
   */
  static List<int[]> sample(Path stepModel, int layers, int hidden, int vocab, int count, int length, long seed) {
    Random r = new Random(seed);
    int[][] seqs = new int[count][length];
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    for (int k = 0; k < layers; k++) {
      feeds.put("h" + k, Tensor.ofFloats(new long[] {1, count, hidden}, new float[count * hidden]));
      feeds.put("c" + k, Tensor.ofFloats(new long[] {1, count, hidden}, new float[count * hidden]));
    }
    try (OnnxSession s = OnnxSession.open(stepModel, OnnxSession.Options.defaults())) {
      for (int i = 0; i < count; i++) seqs[i][0] = r.nextInt(vocab);
      for (int t = 1; t < length; t++) {
        int[] ids = new int[count];
        for (int i = 0; i < count; i++) ids[i] = seqs[i][t - 1];
        feeds.put("ids", Tensor.ofInts(new long[] {count, 1}, ids));
        Map<String, Tensor> out = s.run(feeds);
        float[] p = out.get("probs").toFloats();
        for (int i = 0; i < count; i++) seqs[i][t] = draw(p, i * vocab, vocab, r.nextDouble());
        for (int k = 0; k < layers; k++) {
          feeds.put("h" + k, out.get("h" + k + "_next"));
          feeds.put("c" + k, out.get("c" + k + "_next"));
        }
      }
    }
    return List.of(seqs);
  }

  private static int draw(float[] p, int offset, int vocab, double u) {
    double acc = 0;
    for (int j = 0; j < vocab; j++) {
      acc += p[offset + j];
      if (u < acc) return j;
    }
    return vocab - 1;
  }

  /** Token sequences as [1,T] int32 ids (or int64, as the model wants) plus [1] lengths. */
  static List<Sequence> tokens(List<int[]> ids, String data, DType dataType, String lengths) {
    List<Sequence> seqs = new ArrayList<>();
    for (int[] s : ids) {
      Map<String, Tensor> feeds = new LinkedHashMap<>();
      long[] v = Arrays.stream(s).asLongStream().toArray();
      feeds.put(data, Tensor.fromLongs(dataType, new long[] {1, s.length}, v));
      if (lengths != null) feeds.put(lengths, Tensor.ofInts(new long[] {1}, s.length));
      seqs.add(new Sequence(feeds, s));
    }
    return seqs;
  }

  /** Gaussian features [1,T,F] plus [1] lengths. */
  static List<Sequence> features(int count, int length, int features, String data, String lengths, long seed) {
    Random r = new Random(seed);
    List<Sequence> seqs = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      float[] x = new float[length * features];
      for (int j = 0; j < x.length; j++) x[j] = (float) r.nextGaussian();
      Map<String, Tensor> feeds = new LinkedHashMap<>();
      feeds.put(data, Tensor.ofFloats(new long[] {1, length, features}, x));
      if (lengths != null) feeds.put(lengths, Tensor.ofInts(new long[] {1}, length));
      seqs.add(new Sequence(feeds, null));
    }
    return seqs;
  }
}
