package returnn.onnx.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.tf.checkpoint.CheckpointReader;
import returnn.onnx.tf.checkpoint.CheckpointWriter;

/** {@code bench --synthetic}: the converter's own speed on a ~20,000-node graph, and checkpoint reading vs a file copy. */
public final class SyntheticBench {
  private SyntheticBench() {}

  /** Converts (and writes) a linear stack of {@code layers} layers, 14 TF nodes each; prints the median time. */
  public static void conversionSpeed(Path dir, int layers, int repeat) throws IOException {
    SyntheticModels.Model m = SyntheticModels.linearStack(layers, 32);
    Path graph = dir.resolve("synthetic.pb");
    Files.write(graph, m.graph().toByteArray());
    Path ckpt = dir.resolve("synthetic-ckpt/model");
    Files.createDirectories(ckpt.getParent());
    SyntheticModels.writeCheckpoint(ckpt, m.weights());
    Path out = dir.resolve("synthetic.onnx");
    ConvertOptions o = ConvertOptions.of(graph, ckpt, List.of(m.output()));
    long[] ms = new long[repeat];
    Converter.Result last = null;
    for (int i = -2; i < repeat; i++) {
      long t0 = System.nanoTime();
      last = Converter.convert(o);
      last.write(out);
      if (i >= 0) ms[i] = (System.nanoTime() - t0) / 1_000_000;
    }
    System.out.printf("conversion: %d TF nodes (%d layers) -> %d ONNX nodes, median %d ms over %d runs (all: %s)%n",
        m.graph().getNodeCount(), layers, last.graph().nodes().size(), median(ms), repeat, Arrays.toString(ms));
  }

  /**
   * Writes a checkpoint of about {@code checkpointMb} MB, then reads every tensor (CRC32C checked) and copies the
   * data file, {@code repeat} times each after 2 warm-ups; prints both medians and their ratio.
   */
  public static void checkpointReading(Path dir, int checkpointMb, int repeat) throws IOException {
    Map<String, Tensor> t = new LinkedHashMap<>();
    int tensorMb = 10;
    int count = Math.max(1, checkpointMb / tensorMb);
    int floats = tensorMb * (1 << 20) / 4;
    for (int i = 0; i < count; i++) {
      final int seed = i;
      t.put(String.format("layer%03d/W", i), Tensor.lazy(DType.FLOAT, new long[] {floats}, () -> {
        ByteBuffer b = Tensor.alloc(floats * 4L);
        for (int k = 0; k < floats; k++) b.putFloat(k * 4, (k * 31 + seed) % 1000 * 0.001f);
        return b;
      }));
    }
    Path prefix = dir.resolve("big/model");
    Files.createDirectories(prefix.getParent());
    CheckpointWriter.write(prefix, t);
    t.clear();
    Path data = prefix.resolveSibling("model.data-00000-of-00001");
    long bytes = Files.size(data);
    Path copy = dir.resolve("copy.bin");
    long[] copyMs = new long[repeat];
    long[] readMs = new long[repeat];
    for (int i = -2; i < repeat; i++) {
      long t0 = System.nanoTime();
      Files.copy(data, copy, StandardCopyOption.REPLACE_EXISTING);
      long t1 = System.nanoTime();
      double checksum = 0;
      try (CheckpointReader r = CheckpointReader.open(prefix)) {
        for (CheckpointReader.Entry e : r.entries()) checksum += r.tensorChecked(e.name()).data().getFloat(0);
      }
      long t2 = System.nanoTime();
      if (checksum < 0) System.out.print("");
      if (i >= 0) {
        copyMs[i] = (t1 - t0) / 1_000_000;
        readMs[i] = (t2 - t1) / 1_000_000;
      }
      Files.deleteIfExists(copy);
    }
    long c = median(copyMs), r = median(readMs);
    System.out.printf("checkpoint: %,d bytes in %d tensors; read all (CRC32C checked) median %d ms, plain file copy median %d ms, ratio %.2fx (target <= 2x)%n",
        bytes, count, r, c, c == 0 ? 0.0 : (double) r / c);
  }

  static long median(long[] v) {
    long[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
