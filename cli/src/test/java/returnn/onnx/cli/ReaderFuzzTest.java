package returnn.onnx.cli;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import returnn.onnx.ConversionException;
import returnn.onnx.ir.Value;
import returnn.onnx.io.ModelPrecheck;
import returnn.onnx.io.OnnxReader;
import returnn.onnx.runtime.Npy;
import returnn.onnx.runtime.ReturnnVocabulary;
import returnn.onnx.tf.GraphReader;
import returnn.onnx.tf.checkpoint.CheckpointReader;

/**
 * Fuzz tests of every reader of outside input (Jazzer): GraphDef / MetaGraphDef binary and text, the checkpoint
 * index and data, {@code .npy}, ONNX (with the pre-check ONNX Runtime gets), and RETURNN vocabularies. The property:
 * every input ends in a result or in one clean error ({@link ConversionException}, {@link IllegalArgumentException},
 * {@link IllegalStateException}, the types the CLI prints as one {@code error:} line); any other exception, a hang
 * or running out of memory is a finding.
 *
 * <p>In {@code mvn test} (and {@code ./run-tests}) each target runs its seeds: files in
 * {@code src/test/resources/returnn/onnx/cli/ReaderFuzzTestInputs/<target>/}, written from the fixtures by
 * {@link FuzzSeeds}, plus every reproducer of a finding Jazzer saved there. {@code ./run-tests} then fuzzes each
 * target for real for 20 s ({@code scripts/fuzz}); {@code scripts/fuzz 30 onnx} fuzzes longer (rounds of 20 s, the
 * corpus kept in {@code cli/.cifuzz-corpus/} between them).
 */
class ReaderFuzzTest {
  private static final Path DIR;

  static {
    try {
      DIR = Files.createTempDirectory("returnn-onnx-fuzz");
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        try (var s = Files.list(DIR)) {
          for (Path p : s.toList()) Files.deleteIfExists(p);
          Files.deleteIfExists(DIR);
        } catch (IOException ignored) {
          // best effort
        }
      }));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void clean(Runnable r) {
    try {
      r.run();
    } catch (ConversionException | IllegalArgumentException | IllegalStateException e) {
      if (e.getMessage() == null || e.getMessage().isBlank()) throw new AssertionError("an error without a message", e);
    }
  }

  private static Path write(String name, byte[] bytes) {
    try {
      return Files.write(DIR.resolve(name), bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** First byte: the format (.pb, .meta, .pbtxt, .metatxt); the rest: the file. */
  @FuzzTest(maxDuration = "20s")
  void graph(byte[] data) {
    if (data.length == 0) return;
    String ext = new String[] {"pb", "meta", "pbtxt", "metatxt"}[(data[0] & 0xff) % 4];
    Path p = write("graph." + ext, Arrays.copyOfRange(data, 1, data.length));
    clean(() -> GraphReader.read(p));
  }

  /** Bytes 0-3: length n of the index (big endian); then the index, then the data shard. Every tensor is read. */
  @FuzzTest(maxDuration = "20s")
  void checkpoint(byte[] data) {
    if (data.length < 4) return;
    int n = (int) Math.min(Integer.toUnsignedLong(ByteBuffer.wrap(data, 0, 4).getInt()), data.length - 4);
    write("ckpt.index", Arrays.copyOfRange(data, 4, 4 + n));
    write("ckpt.data-00000-of-00001", Arrays.copyOfRange(data, 4 + n, data.length));
    clean(() -> {
      try (CheckpointReader r = CheckpointReader.open(DIR.resolve("ckpt"))) {
        for (CheckpointReader.Entry e : r.entries()) r.tensorChecked(e.name());
      }
    });
  }

  @FuzzTest(maxDuration = "20s")
  void npy(byte[] data) {
    clean(() -> Npy.read(data, "fuzz.npy"));
  }

  /** The model, its weights read (external data: the file "w.bin" beside it holds the same bytes). */
  @FuzzTest(maxDuration = "20s")
  void onnx(byte[] data) {
    Path p = write("model.onnx", data);
    write("w.bin", data);
    clean(() -> ModelPrecheck.check(p));
    clean(() -> {
      OnnxReader.Model m = OnnxReader.read(p);
      for (Value c : m.graph().constants()) c.constant().data();
    });
  }

  @FuzzTest(maxDuration = "20s")
  void vocabulary(byte[] data) {
    clean(() -> ReturnnVocabulary.parse(new String(data, StandardCharsets.UTF_8), "fuzz-vocab.txt"));
  }
}
