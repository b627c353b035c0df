package returnn.onnx.tf.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

class CheckpointRoundTripTest {
  @TempDir Path dir;

  static Map<String, Tensor> sample() {
    Map<String, Tensor> m = new LinkedHashMap<>();
    m.put("lstm0_fw/rec/W_re", Tensor.ofFloats(new long[] {3, 4}, 1, -2, 3.5f, Float.NaN, 0, -0f, 1e-30f, 7, 8, 9, 10,
        Float.POSITIVE_INFINITY));
    m.put("global_step", Tensor.scalarLong(123456789012L));
    m.put("output/b", Tensor.ofInts(new long[] {2, 1, 2}, 1, -1, Integer.MAX_VALUE, Integer.MIN_VALUE));
    m.put("mask", Tensor.ofBools(new long[] {2, 2}, true, false, false, true));
    m.put("scale", Tensor.ofDoubles(new long[0], Math.PI));
    m.put("half", Tensor.fromDoubles(DType.FLOAT16, new long[] {3}, new double[] {1.5, -2, 65504}));
    m.put("vocab", Tensor.ofStrings(new long[] {3}, List.of(utf8("a"), utf8(""), utf8("größer"))));
    m.put("empty", Tensor.ofFloats(new long[] {0, 3}));
    m.put("no_strings", Tensor.ofStrings(new long[] {0}, List.of()));
    return m;
  }

  static void assertSameTensor(String name, Tensor expected, Tensor actual) {
    assertEquals(expected.dtype(), actual.dtype(), name);
    assertArrayEquals(expected.shape(), actual.shape(), name);
    if (expected.dtype() == DType.STRING) {
      assertEquals(expected.strings().size(), actual.strings().size(), name);
      for (int i = 0; i < expected.strings().size(); i++) {
        assertArrayEquals(expected.strings().get(i), actual.strings().get(i), name + "[" + i + "]");
      }
    } else {
      assertEquals(expected.data(), actual.data(), name);
    }
  }

  @Test
  void roundTripOfAllDtypes() {
    Path prefix = dir.resolve("models/epoch.030");
    Map<String, Tensor> tensors = sample();
    CheckpointWriter.write(prefix, tensors);
    assertTrue(Files.exists(dir.resolve("models/epoch.030.index")));
    assertTrue(Files.exists(dir.resolve("models/epoch.030.data-00000-of-00001")));
    try (CheckpointReader r = CheckpointReader.open(prefix)) {
      assertEquals(prefix, r.prefix());
      assertEquals(dir.resolve("models/epoch.030.index"), r.indexFile());
      List<String> names = r.entries().stream().map(CheckpointReader.Entry::name).toList();
      assertEquals(new ArrayList<>(new TreeMap<>(tensors).keySet()), names);
      for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
        Tensor t = r.tensor(e.getKey());
        assertSameTensor(e.getKey(), e.getValue(), t);
        assertEquals(e.getValue().dtype(), r.entry(e.getKey()).dtype());
      }
      CheckpointReader.Entry w = r.entry("lstm0_fw/rec/W_re");
      assertArrayEquals(new long[] {3, 4}, w.shape());
      assertEquals(48, w.size());
      assertEquals(0, w.shard());
      assertTrue(r.contains("global_step"));
      assertFalse(r.contains("nope"));
      assertNull(r.entry("nope"));
    }
    assertNoTempFiles();
  }

  @Test
  void tensorsAreLazyAndCheckedOnFirstUse() {
    Path prefix = dir.resolve("ckpt");
    CheckpointWriter.write(prefix, sample());
    try (CheckpointReader r = CheckpointReader.open(prefix)) {
      Tensor lazy = r.tensor("lstm0_fw/rec/W_re");
      assertFalse(lazy.isLoaded());
      assertEquals(-2f, lazy.toFloats()[1]);
      assertTrue(r.tensorChecked("global_step").isLoaded());
    }
  }

  @Test
  void severalShards() {
    Path prefix = dir.resolve("sharded");
    Map<String, Tensor> tensors = sample();
    CheckpointWriter.write(prefix, tensors, 3);
    for (int s = 0; s < 3; s++) assertTrue(Files.exists(CheckpointPaths.dataFile(prefix, s, 3)));
    try (CheckpointReader r = CheckpointReader.open(prefix)) {
      assertEquals(3, r.entries().stream().map(CheckpointReader.Entry::shard).distinct().count());
      tensors.forEach((name, t) -> assertSameTensor(name, t, r.tensor(name)));
    }
  }

  @Test
  void tensorsCrossingMappingChunksAreCopied() {
    Path prefix = dir.resolve("chunks");
    Map<String, Tensor> tensors = sample();
    CheckpointWriter.write(prefix, tensors);
    try (CheckpointReader r = CheckpointReader.open(prefix, 20)) {
      tensors.forEach((name, t) -> assertSameTensor(name, t, r.tensor(name)));
    }
  }

  @Test
  void manyEntriesSpanSeveralIndexBlocks() throws IOException {
    Path prefix = dir.resolve("many");
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    String pad = "x".repeat(300);
    for (int i = 0; i < 2000; i++) tensors.put("layer" + i + "/" + pad + "/W", Tensor.ofInts(new long[] {1}, i));
    CheckpointWriter.write(prefix, tensors);
    assertTrue(Files.size(CheckpointPaths.indexFile(prefix)) > 2 * 256 * 1024, "index should need several blocks");
    try (CheckpointReader r = CheckpointReader.open(prefix)) {
      assertEquals(2000, r.entries().size());
      for (int i = 0; i < 2000; i += 97) assertEquals(i, r.tensor("layer" + i + "/" + pad + "/W").toInts()[0]);
    }
  }

  @Test
  void namesAreOrderedAsUtf8Bytes() {
    Path prefix = dir.resolve("order");
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    for (String n : List.of("b", "a/b", "a", "\uffff", "\ud83d\ude00", "A", "a_b")) tensors.put(n, Tensor.scalarFloat(1));
    CheckpointWriter.write(prefix, tensors);
    try (CheckpointReader r = CheckpointReader.open(prefix)) {
      // U+1F600 (4 UTF-8 bytes starting 0xF0) sorts after U+FFFF (0xEF...) as bytes, unlike Java's UTF-16 order.
      assertEquals(List.of("A", "a", "a/b", "a_b", "b", "\uffff", "\ud83d\ude00"),
          r.entries().stream().map(CheckpointReader.Entry::name).toList());
    }
  }

  @Test
  void prefixIsResolvedFromFilesAndDirectories() throws IOException {
    Path prefix = dir.resolve("models/epoch.007");
    CheckpointWriter.write(prefix, Map.of("global_step", Tensor.scalarLong(7)));
    Files.writeString(dir.resolve("models/checkpoint"),
        "model_checkpoint_path: \"epoch.007\"\nall_model_checkpoint_paths: \"epoch.007\"\n");
    for (Path p : List.of(prefix, dir.resolve("models/epoch.007.index"),
        dir.resolve("models/epoch.007.data-00000-of-00001"), dir.resolve("models/epoch.007.meta"), dir.resolve("models"))) {
      try (CheckpointReader r = CheckpointReader.open(p)) {
        assertEquals(prefix, r.prefix(), p.toString());
        assertEquals(7, r.tensor("global_step").toLongs()[0]);
      }
    }
  }

  @Test
  void writerReplacesAnExistingCheckpoint() {
    Path prefix = dir.resolve("again");
    CheckpointWriter.write(prefix, sample());
    CheckpointWriter.write(prefix, Map.of("global_step", Tensor.scalarLong(2)));
    try (CheckpointReader r = CheckpointReader.open(prefix)) {
      assertEquals(1, r.entries().size());
      assertEquals(2, r.tensor("global_step").toLongs()[0]);
    }
    assertNoTempFiles();
  }

  @Test
  void failedWriteLeavesNothing() throws IOException {
    Path prefix = dir.resolve("failed");
    Map<String, Tensor> tensors = new LinkedHashMap<>(sample());
    tensors.put("zzz", Tensor.lazy(DType.FLOAT, new long[] {1}, () -> {
      throw new IllegalStateException("source gone");
    }));
    assertThrows(IllegalStateException.class, () -> CheckpointWriter.write(prefix, tensors));
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of(), files.toList());
    }
  }

  @Test
  void crc32cMatchesTheCastagnoliCheckValue() {
    int crc = Crc32c.of(ByteBuffer.wrap(utf8("123456789")));
    assertEquals(0xe3069283, crc);
    assertEquals(crc, Crc32c.unmask(Crc32c.mask(crc)));
  }

  private void assertNoTempFiles() {
    try (Stream<Path> files = Files.walk(dir)) {
      assertEquals(List.of(), files.filter(p -> p.toString().contains(".tempstate")).toList());
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
