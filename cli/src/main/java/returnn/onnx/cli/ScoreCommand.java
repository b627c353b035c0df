package returnn.onnx.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import returnn.onnx.runtime.LmScorer;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.runtime.ReturnnVocabulary;
import returnn.onnx.runtime.StreamingSession;

@Command(name = "score", mixinStandardHelpOptions = true,
    description = {"Perplexity of a language model converted with --state over a text (one sentence a line), run in "
        + "chunks with its states carried; prints perplexity, tokens per second and per-call latency.",
        "Input <s> w1 ... wn, targets w1 ... wn </s>, word ids from the RETURNN vocabulary file (a dict literal)."})
final class ScoreCommand implements Callable<Integer> {
  @Option(names = "--onnx", required = true, description = "The LM, converted with --state.")
  Path onnx;

  @Option(names = "--text", required = true, description = "UTF-8 text, one sentence a line, words separated by spaces.")
  Path text;

  @Option(names = "--vocab", required = true, description = "RETURNN vocabulary file: {'<s>': 0, '</s>': 0, 'the': 1, ...}.")
  Path vocab;

  @Option(names = "--chunk", defaultValue = "0", description = "Tokens per model call (default 0: a whole sentence per call).")
  int chunk;

  @Option(names = "--unknown-label", defaultValue = "<unk>", description = "Label for words outside the vocabulary (default ${DEFAULT-VALUE}).")
  String unknownLabel;

  @Option(names = "--threads", defaultValue = "1", description = "ONNX Runtime intra-op threads (default ${DEFAULT-VALUE}; 0: its choice).")
  int threads;

  @Override
  public Integer call() throws IOException {
    Parsing.range("--chunk", chunk, 0, Integer.MAX_VALUE);
    List<String> sentences;
    try {
      sentences = Files.readAllLines(text, StandardCharsets.UTF_8);
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new IllegalArgumentException(text + ": not UTF-8 text (" + e.getMessage() + ")");
    } catch (IOException e) {
      throw new IllegalArgumentException(text + ": cannot read: " + e.getMessage());
    }
    if (sentences.stream().allMatch(String::isBlank)) {
      throw new IllegalArgumentException(text + ": no sentence to score (the text is empty)");
    }
    ReturnnVocabulary v = ReturnnVocabulary.read(vocab);
    try (StreamingSession s = StreamingSession.open(onnx, new OnnxSession.Options(threads, true))) {
      StreamInputs in = StreamInputs.of(s.dataInputs());
      LmScorer.Result r;
      try (Progress p = Progress.start("score", sentences.size())) {
        r = new LmScorer(s, v, in.data(), in.lengths(), unknownLabel)
            .score(sentences, chunk > 0 ? chunk : Integer.MAX_VALUE, line -> p.update(line, sentences.size()));
      }
      long stepNanos = r.stepNanos().stream().mapToLong(Long::longValue).sum();
      System.out.printf("sentences: %d, tokens: %d (</s> included), unknown words: %d%n", r.sentences(), r.tokens(), r.unknown());
      System.out.printf("log-prob: %.4f%n", r.logProb());
      System.out.printf("perplexity: %.4f%n", r.perplexity());
      System.out.printf("speed: %.1f tokens/s in model calls (%.1f tokens/s overall)%n",
          r.tokens() / (stepNanos / 1e9), r.tokens() / (r.totalNanos() / 1e9));
      System.out.printf("per-call latency (chunk %s): %s%n", chunk > 0 ? chunk + " tokens" : "whole sentence",
          StepTimes.format(r.stepNanos()));
    }
    return 0;
  }
}
