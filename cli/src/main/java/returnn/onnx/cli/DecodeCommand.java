package returnn.onnx.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.runtime.Npy;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.runtime.ReturnnVocabulary;
import returnn.onnx.runtime.StepByStepDecoder;

@Command(name = "decode", mixinStandardHelpOptions = true,
    description = "Decode features with the models of convert --step-by-step (RETURNN's beam search: its choice layer, "
        + "length-normalized; --beam 1 is greedy; a transducer: one label per input frame, blanks left out); prints one "
        + "label sequence per input sequence.")
final class DecodeCommand implements Callable<Integer> {
  @Option(names = "--models", required = true, description = "The folder convert --step-by-step wrote.")
  Path models;

  @Option(names = "--input", required = true, description = "Features .npy, float32: [T,F] (one sequence) or [B,T,F] (padded).")
  Path input;

  @Option(names = "--lengths", description = "Sequence lengths .npy, int32 [B] (default: every sequence has all T frames).")
  Path lengths;

  @Option(names = "--beam", defaultValue = "4", description = "Beam size (default ${DEFAULT-VALUE}).")
  int beam;

  @Option(names = "--eos", defaultValue = "0", description = "End-of-sequence label (default ${DEFAULT-VALUE}).")
  int eos;

  @Option(names = "--blank", defaultValue = "0", description = "Blank label of a frame-synchronous (transducer) model, left out of the output (default ${DEFAULT-VALUE}).")
  int blank;

  @Option(names = "--max-steps", description = "At most this many labels (default: the longest encoder length, the "
      + "initializer's base_size_* state, as RETURNN's max_len_from('base:encoder'); without one the input frames T).")
  Integer maxSteps;

  @Option(names = "--vocab", description = "RETURNN vocabulary file (Python dict literal label -> id) to print labels instead of ids.")
  Path vocab;

  @Option(names = "--repeat", defaultValue = "1", description = "Run the search this many times and report the median time (default ${DEFAULT-VALUE}).")
  int repeat;

  @Option(names = "--against", description = "Another folder of step-by-step models (e.g. --step-by-step-form stateful-split) "
      + "to time in the same run: each of the --repeat rounds runs both searches (alternating which goes first); prints "
      + "both medians and the median of the per-round time ratios, and fails if their labels differ.")
  Path against;

  @Option(names = "--threads", defaultValue = "1", description = "ONNX Runtime intra-op threads (default ${DEFAULT-VALUE}; 0: its choice).")
  int threads;

  @Override
  public Integer call() {
    if (repeat <= 0) throw new IllegalArgumentException("--repeat must be positive, got " + repeat);
    if (beam <= 0) throw new IllegalArgumentException("--beam must be positive, got " + beam);
    if (maxSteps != null && maxSteps <= 0) throw new IllegalArgumentException("--max-steps must be positive, got " + maxSteps);
    if (!Files.isDirectory(models)) throw new IllegalArgumentException(models + ": not a folder (give the folder convert --step-by-step wrote)");
    Tensor feats = Npy.read(input);
    if (feats.dtype() != DType.FLOAT) throw new IllegalArgumentException(input + ": features must be float32, not " + feats.dtype());
    if (feats.rank() == 2) feats = feats.reshape(new long[] {1, feats.shape()[0], feats.shape()[1]});
    if (feats.rank() != 3 || feats.shape()[0] == 0 || feats.shape()[1] == 0) {
      throw new IllegalArgumentException(input + ": features must be [T,F] or [B,T,F] with frames, not " + Arrays.toString(feats.shape()));
    }
    int batch = (int) feats.shape()[0], time = (int) feats.shape()[1];
    Tensor lens;
    if (lengths != null) {
      lens = Npy.read(lengths);
      if (lens.dtype() != DType.INT32 || lens.rank() != 1 || lens.shape()[0] != batch) {
        throw new IllegalArgumentException(lengths + ": lengths must be int32 [" + batch + "], not " + lens.dtype() + Arrays.toString(lens.shape()));
      }
      for (int l : lens.toInts()) {
        if (l < 1 || l > time) throw new IllegalArgumentException(lengths + ": length " + l + " outside 1.." + time);
      }
    } else {
      int[] l = new int[batch];
      Arrays.fill(l, time);
      lens = Tensor.ofInts(new long[] {batch}, l);
    }
    String[] names = vocab == null ? null : labels(ReturnnVocabulary.read(vocab));
    try (StepByStepDecoder dec = StepByStepDecoder.open(models, new OnnxSession.Options(threads, true))) {
      Map<String, Tensor> feeds = new LinkedHashMap<>();
      List<String> ins = dec.encoderInputs();
      for (String n : ins) feeds.put(n, dec.isLengthInput(n) ? lens : feats);
      // a frame-synchronous (transducer) model carries the step index "i": one label (blank included) per encoder
      // frame, no EOS; RETURNN's search ends sequence b at step length + 1, and prints the non-blank labels of its frames
      boolean frameSync = dec.initialStates(feeds).containsKey("i");
      int[] endAt = null;
      if (frameSync) {
        if (maxSteps != null) throw new IllegalArgumentException("--max-steps: a frame-synchronous (transducer) model takes one step per input frame");
        endAt = new int[batch];
        for (int b = 0; b < batch; b++) endAt[b] = lens.toInts()[b] + 1;
      }
      int steps = frameSync ? time : maxSteps != null ? maxSteps : encoderLength(dec, feeds, time);
      StepByStepDecoder.Beam r = null;
      double[] ms = new double[repeat];
      for (int i = 0; i < repeat; i++) {
        long t0 = System.nanoTime();
        r = frameSync ? dec.returnnBeamSearch(feeds, beam, -1, time, true, endAt)
            : dec.returnnBeamSearch(feeds, beam, eos, steps, true);
        ms[i] = (System.nanoTime() - t0) / 1e6;
      }
      Arrays.sort(ms);
      int[][] best = r.best();
      float[][] norm = r.normalizedScores();
      for (int b = 0; b < batch; b++) {
        int j = 0;
        for (int i = 1; i < norm[b].length; i++) if (norm[b][i] > norm[b][j]) j = i;
        if (frameSync) {
          int len = lens.toInts()[b];
          best[b] = Arrays.stream(Arrays.copyOf(r.labels()[b][j], len)).filter(x -> x != blank).toArray();
        }
        StringBuilder line = new StringBuilder();
        for (int x : best[b]) {
          if (line.length() > 0) line.append(' ');
          line.append(names != null && x >= 0 && x < names.length && names[x] != null ? names[x] : Integer.toString(x));
        }
        System.out.printf("%d\t%s\t%.6f%n", b, line, norm[b][j]);
      }
      System.err.printf("decoded %d sequences, beam %d, %d steps in %.2f ms%s%n", batch, beam, r.steps(), ms[repeat / 2],
          repeat > 1 ? " (median of " + repeat + " runs)" : "");
      if (against != null) compare(dec, feeds, r, steps);
    }
    return 0;
  }

  /**
   * The longest encoder length among the sequences: the initializer's {@code base_size_*} state (the encoder's time
   * after subsampling, what RETURNN's search graph limits the search to with max_len_from('base:encoder')); the input
   * frames if there is none.
   */
  static int encoderLength(StepByStepDecoder dec, Map<String, Tensor> feeds, int frames) {
    int max = -1;
    for (Map.Entry<String, Tensor> e : dec.initialStates(feeds).entrySet()) {
      if (e.getKey().startsWith("base_size_")) for (long l : e.getValue().toLongs()) max = (int) Math.max(max, l);
    }
    return max > 0 ? max : frames;
  }

  /** Times --models against --against, interleaved in one process; same labels required. */
  private void compare(StepByStepDecoder dec, Map<String, Tensor> feeds, StepByStepDecoder.Beam mine, int steps) {
    if (!Files.isDirectory(against)) throw new IllegalArgumentException(against + ": not a folder");
    try (StepByStepDecoder other = StepByStepDecoder.open(against, new OnnxSession.Options(threads, true))) {
      double[] a = new double[repeat], b = new double[repeat], ratio = new double[repeat];
      StepByStepDecoder.Beam theirs = null;
      for (int i = 0; i < repeat; i++) {
        for (int k = 0; k < 2; k++) {
          boolean mineNow = (i + k) % 2 == 0;
          long t0 = System.nanoTime();
          StepByStepDecoder.Beam x = (mineNow ? dec : other).returnnBeamSearch(feeds, beam, eos, steps, true);
          double t = (System.nanoTime() - t0) / 1e6;
          if (mineNow) a[i] = t;
          else {
            b[i] = t;
            theirs = x;
          }
        }
        ratio[i] = b[i] / a[i];
      }
      if (!Arrays.deepEquals(mine.labels(), theirs.labels())) {
        throw new IllegalStateException(models + " and " + against + " give different beams");
      }
      Arrays.sort(a);
      Arrays.sort(b);
      Arrays.sort(ratio);
      System.err.printf("%s: %.2f ms, %s: %.2f ms (medians of %d interleaved rounds); %s / %s time: %.2fx (median of per-round ratios); same beams%n",
          models, a[repeat / 2], against, b[repeat / 2], repeat, against, models, ratio[repeat / 2]);
    }
  }

  private static String[] labels(ReturnnVocabulary v) {
    int max = -1;
    for (int id : v.ids().values()) max = Math.max(max, id);
    String[] names = new String[max + 1];
    for (Map.Entry<String, Integer> e : v.ids().entrySet()) if (names[e.getValue()] == null) names[e.getValue()] = e.getKey();
    return names;
  }
}
