package returnn.onnx.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Tensor;

/**
 * Perplexity of a RETURNN language model over sentences, run chunk by chunk with the state carried (a
 * {@link StreamingSession}). As RETURNN's LmDataset feeds a word LM: the input is {@code <s> w1 … wn}, the targets
 * {@code w1 … wn </s>} (both boundaries usually share one id), words outside the vocabulary take the unknown label.
 * Each sentence starts from fresh states. The model's first output holds per-frame probabilities (softmax) or
 * log-probabilities [1,T,V]; which of the two is told from the first frame's sum.
 */
public final class LmScorer {
  /** What a scoring run measured; {@code stepNanos} is the wall time of each model call. */
  public record Result(int sentences, long tokens, long unknown, double logProb, List<Long> stepNanos, long totalNanos) {
    /**
     * The perplexity: exp of minus the mean log-probability per token.
     *
     * @return the perplexity
     */
    public double perplexity() {
      return Math.exp(-logProb / tokens);
    }
  }

  private final StreamingSession session;
  private final ReturnnVocabulary vocab;
  private final String labels;
  private final String lengths;
  private final String output;
  private final Integer unknownId;
  private final int bos;
  private final int eos;
  private Boolean logSpace;

  /**
   * A scorer of the LM {@code session} runs.
   *
   * @param session the LM, converted with state
   * @param vocab its vocabulary
   * @param labels the label input (RETURNN's {@code extern_data/placeholders/data/data})
   * @param lengths its lengths input, or null if the model has none
   * @param unknownLabel the label for words outside the vocabulary (RETURNN's {@code unknown_label}); may be absent
   */
  public LmScorer(StreamingSession session, ReturnnVocabulary vocab, String labels, String lengths, String unknownLabel) {
    this.session = session;
    this.vocab = vocab;
    this.labels = labels;
    this.lengths = lengths;
    this.output = session.networkOutputs().get(0);
    this.unknownId = vocab.contains(unknownLabel) ? vocab.id(unknownLabel) : null;
    if (!vocab.contains("</s>")) throw new IllegalArgumentException("the vocabulary has no '</s>'");
    this.eos = vocab.id("</s>");
    this.bos = vocab.contains("<s>") ? vocab.id("<s>") : eos;
  }

  /**
   * Scores the sentences (words separated by whitespace; blank ones are skipped) in chunks of {@code chunk} frames.
   *
   * @param sentences one sentence a line
   * @param chunk tokens per model call
   * @return what the run measured
   */
  public Result score(List<String> sentences, int chunk) {
    return score(sentences, chunk, line -> {});
  }

  /**
   * As {@link #score(List, int)}; {@code linesDone} hears how many lines are done after each one (for a progress bar).
   *
   * @param sentences one sentence a line
   * @param chunk tokens per model call
   * @param linesDone told the count of lines done after each line
   * @return what the run measured
   */
  public Result score(List<String> sentences, int chunk, java.util.function.IntConsumer linesDone) {
    if (chunk <= 0) throw new IllegalArgumentException("chunk must be positive, got " + chunk);
    int count = 0;
    long tokens = 0, unknown = 0;
    double logProb = 0;
    List<Long> steps = new ArrayList<>();
    long start = System.nanoTime();
    for (int line = 0; line < sentences.size(); line++) {
      String[] words = sentences.get(line).trim().split("\\s+");
      if (words.length == 1 && words[0].isEmpty()) continue;
      int[] ids = new int[words.length + 1];
      ids[0] = bos;
      for (int i = 0; i < words.length; i++) {
        if (vocab.contains(words[i])) {
          ids[i + 1] = vocab.id(words[i]);
        } else if (unknownId != null) {
          ids[i + 1] = unknownId;
          unknown++;
        } else {
          throw new IllegalArgumentException("line " + (line + 1) + ": '" + words[i] + "' is not in the vocabulary, which has no unknown label");
        }
      }
      session.reset();
      for (int t0 = 0; t0 < ids.length; t0 += chunk) {
        int t1 = Math.min(ids.length, t0 + chunk);
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        feeds.put(labels, Tensor.ofInts(new long[] {1, t1 - t0}, Arrays.copyOfRange(ids, t0, t1)));
        if (lengths != null) feeds.put(lengths, Tensor.ofInts(new long[] {1}, t1 - t0));
        long s = System.nanoTime();
        Tensor out = session.step(feeds).get(output);
        steps.add(System.nanoTime() - s);
        for (int t = t0; t < t1; t++) logProb += logProb(out, t - t0, t + 1 < ids.length ? ids[t + 1] : eos);
      }
      tokens += ids.length;
      count++;
      linesDone.accept(line + 1);
    }
    return new Result(count, tokens, unknown, logProb, steps, System.nanoTime() - start);
  }

  private double logProb(Tensor out, int frame, int target) {
    long[] s = out.shape();
    if (s.length != 3 || s[0] != 1) throw new IllegalArgumentException("output " + output + " is " + Arrays.toString(s) + ", not [1,T,V]");
    long v = s[2];
    if (target >= v) throw new IllegalArgumentException("label id " + target + " is outside the model's " + v + " outputs");
    if (logSpace == null) logSpace = isLogSpace(out, v);
    double x = out.getDouble(frame * v + target);
    return logSpace ? x : Math.log(x);
  }

  /** Probabilities sum to 1 per frame; log-probabilities do after exp. */
  private boolean isLogSpace(Tensor out, long v) {
    double sum = 0, expSum = 0;
    for (long i = 0; i < v; i++) {
      sum += out.getDouble(i);
      expSum += Math.exp(out.getDouble(i));
    }
    if (Math.abs(sum - 1) < 1e-3) return false;
    if (Math.abs(expSum - 1) < 1e-3) return true;
    throw new IllegalArgumentException("output " + output + " is neither probabilities nor log-probabilities (a frame sums to "
        + sum + ", its exp to " + expSum + ")");
  }
}
