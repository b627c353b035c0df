package returnn.onnx.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import returnn.onnx.ir.Tensor;
import returnn.onnx.runtime.Npy;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.runtime.StreamingSession;
import returnn.onnx.runtime.TimeChunks;

@Command(name = "stream", mixinStandardHelpOptions = true,
    description = "Run an acoustic model converted with --state over features chunk by chunk, states carried; prints "
        + "per-chunk latency and throughput, and optionally writes the joined output as .npy.")
final class StreamCommand implements Callable<Integer> {
  @Option(names = "--onnx", required = true, description = "The model, converted with --state.")
  Path onnx;

  @Option(names = "--input", required = true, description = "Features .npy: [T,F] (one sequence) or [B,T,F].")
  Path input;

  @Option(names = "--chunk", required = true, description = "Frames per model call.")
  int chunk;

  @Option(names = "--output", description = "Write the model's first output, joined over the chunks, to this .npy.")
  Path output;

  @Option(names = "--threads", defaultValue = "1", description = "ONNX Runtime intra-op threads (default ${DEFAULT-VALUE}; 0: its choice).")
  int threads;

  @Override
  public Integer call() {
    if (chunk <= 0) throw new IllegalArgumentException("--chunk must be positive, got " + chunk);
    if (output != null) {
      returnn.onnx.SafePaths.checkOutput(output, List.of(onnx, onnx.resolveSibling(onnx.getFileName() + ".data"), input));
    }
    Tensor feats = Npy.read(input);
    if (feats.rank() == 2) feats = feats.reshape(new long[] {1, feats.shape()[0], feats.shape()[1]});
    if (feats.rank() != 3) throw new IllegalArgumentException(input + ": features must be [T,F] or [B,T,F], not " + java.util.Arrays.toString(feats.shape()));
    if (feats.shape()[0] == 0 || feats.shape()[1] == 0) {
      throw new IllegalArgumentException(input + ": features " + java.util.Arrays.toString(feats.shape()) + " have no frames or no sequences");
    }
    int batch = (int) feats.shape()[0], time = (int) feats.shape()[1];
    int[] lengths = new int[batch];
    java.util.Arrays.fill(lengths, time);
    try (StreamingSession s = StreamingSession.open(onnx, new OnnxSession.Options(threads, true))) {
      StreamInputs in = StreamInputs.of(s.dataInputs());
      String out = s.networkOutputs().get(0);
      List<Tensor> outs = new ArrayList<>();
      List<Long> nanos = new ArrayList<>();
      try (Progress p = Progress.start("stream", (time + chunk - 1) / chunk)) {
        for (int t0 = 0; t0 < time; t0 += chunk) {
          int t1 = Math.min(time, t0 + chunk);
          Map<String, Tensor> feeds = new LinkedHashMap<>();
          feeds.put(in.data(), TimeChunks.slice(feats, t0, t1));
          if (in.lengths() != null) feeds.put(in.lengths(), TimeChunks.lengths(lengths, t0, t1));
          long st = System.nanoTime();
          outs.add(s.step(feeds).get(out));
          nanos.add(System.nanoTime() - st);
          p.step();
        }
      }
      long total = nanos.stream().mapToLong(Long::longValue).sum();
      Tensor joined = TimeChunks.concat(outs);
      System.out.printf("frames: %d x %d sequence(s), chunks of %d: %d calls%n", time, batch, chunk, nanos.size());
      System.out.printf("per-chunk latency: %s%n", StepTimes.format(nanos));
      System.out.printf("throughput: %.1f frames/s%n", (double) time * batch / (total / 1e9));
      System.out.println(out + " " + joined.dtype().lower() + java.util.Arrays.toString(joined.shape()));
      if (output != null) {
        Npy.write(output, joined);
        System.out.println("wrote " + output);
      }
    }
    return 0;
  }
}
