package returnn.onnx.tf.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;
import org.tensorflow.types.family.TType;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/** TensorFlow's own SaveV2/RestoreV2/MergeV2Checkpoints kernels against CheckpointReader/CheckpointWriter. */
class CheckpointInteropTest {
  @TempDir Path dir;
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeTfObjects() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
  }

  /** Variables like a RETURNN checkpoint's, plus the other dtypes a bundle can hold. */
  static Map<String, Tensor> variables() {
    Map<String, Tensor> m = new LinkedHashMap<>();
    m.put("lstm0_fw/rec/W_re", Tensor.ofFloats(new long[] {3, 4}, 0.5f, -1.25f, 3e-8f, Float.NaN, 1, 2, 3, 4, -0f,
        Float.MAX_VALUE, Float.MIN_VALUE, Float.NEGATIVE_INFINITY));
    m.put("global_step", Tensor.scalarLong(30L * 1000 * 1000 * 1000 + 7));
    m.put("output/W", Tensor.ofFloats(new long[] {2, 1, 3}, 1, 2, 3, 4, 5, 6));
    m.put("ids", Tensor.ofInts(new long[] {4}, 0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE));
    m.put("mask", Tensor.ofBools(new long[] {3}, true, false, true));
    m.put("learning_rate", Tensor.ofDoubles(new long[0], 1e-3));
    m.put("half", Tensor.fromDoubles(DType.FLOAT16, new long[] {2}, new double[] {0.5, -3}));
    m.put("vocab", Tensor.ofStrings(new long[] {2, 2}, List.of(utf8("<s>"), utf8(""), utf8("größer"), utf8("x y"))));
    m.put("empty", Tensor.ofFloats(new long[] {0, 5}));
    return m;
  }

  @Test
  void tfSaveV2IsReadExactly() {
    Path prefix = dir.resolve("models/epoch.030");
    Map<String, Tensor> vars = variables();
    tfSave(prefix, vars);
    try (CheckpointReader r = CheckpointReader.open(prefix)) {
      assertEquals(vars.size(), r.entries().size());
      vars.forEach((name, t) -> assertSame(name, t, r.tensorChecked(name)));
    }
  }

  @Test
  void tfMergedShardsAreReadExactly() {
    Map<String, Tensor> vars = variables();
    Map<String, Tensor> part0 = new LinkedHashMap<>();
    Map<String, Tensor> part1 = new LinkedHashMap<>();
    vars.forEach((name, t) -> (part0.size() <= part1.size() ? part0 : part1).put(name, t));
    Path p0 = dir.resolve("tmp/part-00000");
    Path p1 = dir.resolve("tmp/part-00001");
    tfSave(p0, part0);
    tfSave(p1, part1);
    Path merged = dir.resolve("merged/model");
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TString> prefixes = tf.constant(StandardCharsets.UTF_8, new String[] {p0.toString(), p1.toString()});
      run(g, tf.train.mergeV2Checkpoints(prefixes, tf.constant(merged.toString())).op());
    }
    try (CheckpointReader r = CheckpointReader.open(merged)) {
      assertEquals(2, r.entries().stream().map(CheckpointReader.Entry::shard).distinct().count());
      vars.forEach((name, t) -> assertSame(name, t, r.tensorChecked(name)));
    }
  }

  @Test
  void tfMultiBlockIndexIsRead() {
    Path prefix = dir.resolve("models/many");
    Map<String, Tensor> vars = new LinkedHashMap<>();
    String pad = "/" + "p".repeat(400);
    for (int i = 0; i < 1500; i++) vars.put("layer" + i + pad + "/W", Tensor.ofInts(new long[] {2}, i, -i));
    tfSave(prefix, vars);
    try (CheckpointReader r = CheckpointReader.open(prefix)) {
      assertEquals(vars.size(), r.entries().size());
      vars.forEach((name, t) -> assertSame(name, t, r.tensorChecked(name)));
    }
  }

  @Test
  void tfRestoreV2ReadsOurCheckpoint() {
    Path prefix = dir.resolve("ours/epoch.001");
    Map<String, Tensor> vars = variables();
    CheckpointWriter.write(prefix, vars);
    assertRestoredByTf(prefix, vars);
  }

  @Test
  void tfRestoreV2ReadsOurShardedCheckpoint() {
    Path prefix = dir.resolve("ours/sharded");
    Map<String, Tensor> vars = variables();
    CheckpointWriter.write(prefix, vars, 3);
    assertRestoredByTf(prefix, vars);
  }

  @Test
  void tfRestoreV2ReadsOurMultiBlockIndex() {
    Path prefix = dir.resolve("ours/many");
    Map<String, Tensor> all = new LinkedHashMap<>();
    String pad = "/" + "p".repeat(400);
    for (int i = 0; i < 1500; i++) all.put("layer" + i + pad + "/W", Tensor.ofInts(new long[] {2}, i, -i));
    CheckpointWriter.write(prefix, all);
    Map<String, Tensor> some = new LinkedHashMap<>();
    for (int i = 0; i < 1500; i += 37) some.put("layer" + i + pad + "/W", all.get("layer" + i + pad + "/W"));
    some.put("layer1499" + pad + "/W", all.get("layer1499" + pad + "/W"));
    assertRestoredByTf(prefix, some);
  }

  /**
   * An index with snappy-compressed blocks (as TF 1.0/1.1's MergeBundles wrote them): TF's RestoreV2 reads it, and
   * so do we, to the same bytes. RETURNN-like names over several data blocks, so compression pays in every block.
   */
  @Test
  void snappyIndexIsReadByTfAndByUs() throws Exception {
    Map<String, Tensor> vars = new LinkedHashMap<>(variables());
    String pad = "/" + "rec".repeat(150);
    for (int i = 0; i < 1500; i++) vars.put("lstm" + i + "_fw" + pad + "/W_re", Tensor.ofInts(new long[] {2}, i, -i));
    Path plain = dir.resolve("plain/epoch.002");
    Path snappy = dir.resolve("snappy/epoch.002");
    CheckpointWriter.write(plain, vars, 2, false);
    CheckpointWriter.write(snappy, vars, 2, true);
    long plainSize = java.nio.file.Files.size(CheckpointPaths.indexFile(plain));
    long snappySize = java.nio.file.Files.size(CheckpointPaths.indexFile(snappy));
    assertTrue(snappySize * 4 < plainSize, "blocks compressed: " + snappySize + " vs " + plainSize + " bytes");
    assertRestoredByTf(snappy, vars);
    try (CheckpointReader r = CheckpointReader.open(snappy)) {
      assertEquals(vars.size(), r.entries().size());
      vars.forEach((name, t) -> assertSame(name, t, r.tensorChecked(name)));
    }
  }

  /** Saves with a graph of constants feeding TF's SaveV2 op, as tf.compat.v1.train.Saver does. */
  private void tfSave(Path prefix, Map<String, Tensor> vars) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      List<Output<?>> values = new ArrayList<>();
      for (Tensor t : vars.values()) values.add(tf.constantOf(toTf(t)).asOutput());
      Operation save = g.opBuilder("SaveV2", "save", tf.scope())
          .addInput(tf.constant(prefix.toString()).asOutput())
          .addInput(names(tf, vars).asOutput())
          .addInput(emptySlices(tf, vars.size()).asOutput())
          .addInputList(values.toArray(new Output<?>[0]))
          .build();
      run(g, save);
    }
  }

  private void assertRestoredByTf(Path prefix, Map<String, Tensor> expected) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      DataType[] dtypes = expected.values().stream().map(t -> DataType.forNumber(t.dtype().tfCode)).toArray(DataType[]::new);
      Operation restore = g.opBuilder("RestoreV2", "restore", tf.scope())
          .addInput(tf.constant(prefix.toString()).asOutput())
          .addInput(names(tf, expected).asOutput())
          .addInput(emptySlices(tf, expected.size()).asOutput())
          .setAttr("dtypes", dtypes)
          .build();
      try (Session s = new Session(g)) {
        Session.Runner runner = s.runner();
        for (Output<?> o : restore.outputList(0, expected.size())) runner.fetch(o);
        try (Result result = runner.run()) {
          int i = 0;
          for (Map.Entry<String, Tensor> e : expected.entrySet()) assertSame(e.getKey(), e.getValue(), fromTf(result.get(i++)));
        }
      }
    }
  }

  private static Operand<TString> names(Ops tf, Map<String, Tensor> vars) {
    return tf.constant(StandardCharsets.UTF_8, vars.keySet().toArray(new String[0]));
  }

  /** An empty shape_and_slices string per tensor: each is saved/restored whole. */
  private static Operand<TString> emptySlices(Ops tf, int n) {
    String[] slices = new String[n];
    java.util.Arrays.fill(slices, "");
    return tf.constant(StandardCharsets.UTF_8, slices);
  }

  private static void run(Graph g, Operation target) {
    try (Session s = new Session(g)) {
      s.runner().addTarget(target).run().close();
    }
  }

  private TType toTf(Tensor t) {
    Shape shape = Shape.of(t.shape());
    TType tf;
    if (t.dtype() == DType.STRING) {
      tf = TString.tensorOfBytes(shape, DataBuffers.ofObjects(t.strings().toArray(new byte[0][])));
    } else {
      ByteBuffer data = t.data();
      byte[] bytes = new byte[data.remaining()];
      data.get(bytes);
      tf = org.tensorflow.Tensor.of(tfClass(t.dtype()), shape, DataBuffers.of(bytes, true, false));
    }
    open.add(tf);
    return tf;
  }

  private static Tensor fromTf(org.tensorflow.Tensor t) {
    long[] shape = t.shape().asArray();
    if (t instanceof TString s) {
      List<byte[]> values = new ArrayList<>();
      s.asBytes().scalars().forEach(x -> values.add(x.getObject()));
      return Tensor.ofStrings(shape, values);
    }
    byte[] bytes = new byte[(int) t.numBytes()];
    t.asRawTensor().data().read(bytes);
    return Tensor.of(DType.fromTfOrNull(t.dataType().getNumber()), shape, ByteBuffer.wrap(bytes));
  }

  private static Class<? extends TType> tfClass(DType t) {
    return switch (t) {
      case FLOAT -> TFloat32.class;
      case DOUBLE -> TFloat64.class;
      case FLOAT16 -> TFloat16.class;
      case INT32 -> TInt32.class;
      case INT64 -> TInt64.class;
      case BOOL -> TBool.class;
      default -> throw new IllegalArgumentException("no TF Java type for " + t);
    };
  }

  private static void assertSame(String name, Tensor expected, Tensor actual) {
    assertEquals(expected.dtype(), actual.dtype(), name);
    assertArrayEquals(expected.shape(), actual.shape(), name);
    if (expected.dtype() == DType.STRING) {
      assertEquals(expected.strings().size(), actual.strings().size(), name);
      for (int i = 0; i < expected.strings().size(); i++) {
        assertArrayEquals(expected.strings().get(i), actual.strings().get(i), name + "[" + i + "]");
      }
    } else {
      assertEquals(expected.data(), actual.data(), name); // bytewise, so NaN and -0 compare exactly
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
