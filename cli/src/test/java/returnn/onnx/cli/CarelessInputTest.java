package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.runtime.Npy;

/**
 * Input that crashed the process or threw a raw exception, and careless input that was silently accepted: each now
 * ends in one {@code error:} line and exit 1, without a stack trace and without an output file.
 */
class CarelessInputTest {
  static final String DATA = "extern_data/placeholders/data/data";
  static final String LENS = "extern_data/placeholders/data/data_dim0_size";

  @TempDir
  Path dir;

  static void assertClean(CliRunner.Run r, String... fragments) {
    assertEquals(1, r.exit(), r.out() + r.err());
    assertTrue(r.err().startsWith("error: "), r.err());
    assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    assertFalse(r.err().contains("Exception"), "no raw exception: " + r.err());
    for (String f : fragments) assertTrue(r.err().contains(f), "expected '" + f + "' in: " + r.err());
  }

  private FixtureWriter.Written write(Fixture f) {
    return f.write(dir, GraphFormat.META);
  }

  private Path convert(FixtureWriter.Written w, String name, String... extra) {
    Path onnx = dir.resolve(name);
    List<String> args = new ArrayList<>(List.of("convert", "--graph", w.graph().toString(), "--checkpoint",
        w.checkpointPrefix().toString(), "--output", onnx.toString()));
    args.addAll(List.of(extra));
    CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
    assertEquals(0, r.exit(), r.out() + r.err());
    return onnx;
  }

  private Path npy(String name, Tensor t) {
    Path p = dir.resolve(name);
    Npy.write(p, t);
    return p;
  }

  private static Tensor lengths(int... l) {
    ByteBuffer b = ByteBuffer.allocate(4 * l.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int v : l) b.putInt(v);
    b.flip();
    return Tensor.of(DType.INT32, new long[] {l.length}, b);
  }

  // ---- crashes

  /** Without the guard this test does not fail: it kills the test JVM (SIGFPE inside ONNX Runtime). */
  @Test
  void emptyTimeOrBatchThroughFusedMultiHeadAttentionIsAnErrorNotACrash() {
    FixtureWriter.Written w = write(Fixtures.attentionBlock(VariableKind.RESOURCE));
    Path onnx = convert(w, "att.onnx");
    Path out = dir.resolve("out");
    Path emptyTime = npy("t0.npy", Tensor.ofFloats(new long[] {1, 0, 16}, new float[0]));
    CliRunner.Run r = CliRunner.run("run", "--onnx", onnx.toString(), "--input", DATA + "=" + emptyTime,
        "--input", LENS + "=" + npy("l0.npy", lengths(0)), "--output-dir", out.toString());
    assertClean(r, "empty axis", "MultiHeadAttention");
    Path emptyBatch = npy("b0.npy", Tensor.ofFloats(new long[] {0, 5, 16}, new float[0]));
    r = CliRunner.run("run", "--onnx", onnx.toString(), "--input", DATA + "=" + emptyBatch,
        "--input", LENS + "=" + npy("lb.npy", Tensor.of(DType.INT32, new long[] {0}, ByteBuffer.allocate(0))), "--output-dir", out.toString());
    assertClean(r, "empty axis");
    assertFalse(Files.exists(out));
    assertClean(CliRunner.run("verify", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--onnx", onnx.toString(), "--batch", "0"), "--batch must be 1 to");
    // The same input through the --no-fuse model (no MultiHeadAttention) still runs: the guard is not a blanket ban.
    Path plain = convert(w, "plain.onnx", "--no-fuse");
    r = CliRunner.run("run", "--onnx", plain.toString(), "--input", DATA + "=" + emptyTime,
        "--input", LENS + "=" + dir.resolve("l0.npy"), "--output-dir", out.toString());
    assertEquals(0, r.exit(), r.out() + r.err());
  }

  @Test
  void optionValuesOutOfRangeAreRefused() {
    FixtureWriter.Written w = write(Fixtures.linearSoftmax(VariableKind.RESOURCE));
    Path onnx = convert(w, "m.onnx");
    String[] verify = {"verify", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(), "--onnx", onnx.toString()};
    assertClean(CliRunner.run(concat(verify, "--batch", "-3")), "--batch must be 1 to");
    assertClean(CliRunner.run(concat(verify, "--time", "100000")), "--time must be 1 to");
    assertClean(CliRunner.run(concat(verify, "--batch", "1000", "--time", "10000")), "over 100,000 frames");
    assertClean(CliRunner.run("bench", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--threads", "-1"), "--threads must be 0 to");
    assertClean(CliRunner.run("bench", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--repeat", "0"), "--repeat must be 1 to");
    assertClean(CliRunner.run("bench", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(),
        "--no-tf"), "--no-tf applies to --conformer only");
    Path feats = npy("f.npy", Tensor.ofFloats(new long[] {1, 3, 8}, new float[24]));
    assertClean(CliRunner.run("run", "--onnx", onnx.toString(), "--input", DATA + "=" + feats, "--output-dir",
        dir.resolve("o").toString(), "--threads", "-2"), "--threads must be 0 to");
  }

  /**
   * A binary GraphDef nested {@code depth} levels deep through AttrValue.func (about 15 bytes a level), encoded by
   * hand: protobuf's own serializer would recurse as deep as the parser.
   */
  static byte[] nestedBinary(int depth) {
    byte[] v = {0x18, 0x01}; // AttrValue { i: 1 }
    for (int i = 0; i < depth; i++) {
      byte[] entry = concatBytes(field(1, "a".getBytes(StandardCharsets.UTF_8)), field(2, v)); // map entry {key, value}
      byte[] nameAttrList = concatBytes(field(1, "f".getBytes(StandardCharsets.UTF_8)), field(2, entry));
      v = field(10, nameAttrList); // AttrValue { func }
    }
    byte[] attr = concatBytes(field(1, "deep".getBytes(StandardCharsets.UTF_8)), field(2, v));
    byte[] node = concatBytes(field(1, "x".getBytes(StandardCharsets.UTF_8)), field(2, "Placeholder".getBytes(StandardCharsets.UTF_8)),
        field(5, attr));
    return field(1, node); // GraphDef { node }
  }

  static String nestedText(int depth) {
    StringBuilder b = new StringBuilder("node { name: \"x\" op: \"Placeholder\" attr { key: \"deep\" value { ");
    b.append("func { name: \"f\" attr { key: \"a\" value { ".repeat(depth)).append("i: 1 ");
    b.append("} } } ".repeat(depth)).append("} } }\n");
    return b.toString();
  }

  private static byte[] field(int number, byte[] payload) {
    java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
    int tag = number << 3 | 2;
    for (long v : new long[] {tag, payload.length}) {
      while (v >= 0x80) {
        o.write((int) (v & 0x7f) | 0x80);
        v >>>= 7;
      }
      o.write((int) v);
    }
    o.writeBytes(payload);
    return o.toByteArray();
  }

  private static byte[] concatBytes(byte[]... parts) {
    java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
    for (byte[] p : parts) o.writeBytes(p);
    return o.toByteArray();
  }

  @Test
  void deeplyNestedGraphsAndVocabulariesAreRefusedCleanly() throws Exception {
    Path out = dir.resolve("m.onnx");
    Path pb = dir.resolve("deep.pb");
    Files.write(pb, nestedBinary(1000));
    assertTrue(Files.size(pb) < 20_000, "a small file: " + Files.size(pb));
    assertClean(CliRunner.run("convert", "--graph", pb.toString(), "--output", out.toString()), "deep.pb", "malformed protobuf");
    Path pbtxt = dir.resolve("deep.pbtxt");
    Files.writeString(pbtxt, nestedText(1000));
    assertClean(CliRunner.run("convert", "--graph", pbtxt.toString(), "--output", out.toString()), "deep.pbtxt");
    assertFalse(Files.exists(out));
    Path vocab = dir.resolve("vocab.txt");
    Files.writeString(vocab, "[".repeat(100_000));
    Path text = Files.writeString(dir.resolve("text.txt"), "a b\n");
    assertClean(CliRunner.run("score", "--onnx", dir.resolve("none.onnx").toString(), "--text", text.toString(),
        "--vocab", vocab.toString()), "vocab.txt", "nested deeper than");
  }

  @Test
  void hugeConstantsAndInputShapesAreRefusedBeforeAllocating() throws Exception {
    Path out = dir.resolve("m.onnx");
    for (long[] dims : List.of(new long[] {1_000_000, 1_000_000, 16}, new long[] {1L << 32, 1L << 31}, new long[] {100_000, 100_000})) {
      TensorShapeProto.Builder sp = TensorShapeProto.newBuilder();
      for (long d : dims) sp.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
      TensorProto t = TensorProto.newBuilder().setDtype(org.tensorflow.proto.DataType.DT_FLOAT).setTensorShape(sp).addFloatVal(1f).build();
      GraphDef g = GraphDef.newBuilder()
          .addNode(NodeDef.newBuilder().setName("big").setOp("Const")
              .putAttr("dtype", AttrValue.newBuilder().setType(org.tensorflow.proto.DataType.DT_FLOAT).build())
              .putAttr("value", AttrValue.newBuilder().setTensor(t).build()))
          .addNode(NodeDef.newBuilder().setName("output/output_batch_major").setOp("Identity").addInput("big")
              .putAttr("T", AttrValue.newBuilder().setType(org.tensorflow.proto.DataType.DT_FLOAT).build()))
          .build();
      Path pb = dir.resolve("big.pb");
      Files.write(pb, g.toByteArray());
      assertClean(CliRunner.run("convert", "--graph", pb.toString(), "--output", out.toString()), "big");
      assertFalse(Files.exists(out));
    }
    FixtureWriter.Written w = write(Fixtures.linearSoftmax(VariableKind.RESOURCE));
    String[] convert = {"convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(), "--output", out.toString()};
    assertClean(CliRunner.run(concat(convert, "--inputs", DATA + ":1x999999999x16")), "more than 2^31 elements");
    assertFalse(Files.exists(out));
  }

  @Test
  void npyShapesWhoseSizeOverflowsAreRefused() throws Exception {
    // (2^61, 4) float64: 2^64 bytes wrap around to 0 bytes of data, which the file has.
    String dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952, 4), }";
    int total = (10 + dict.length() + 1 + 63) / 64 * 64;
    String header = dict + " ".repeat(total - 10 - dict.length() - 1) + "\n";
    ByteBuffer b = ByteBuffer.allocate(10 + header.length()).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) header.length());
    b.put(header.getBytes(StandardCharsets.ISO_8859_1));
    Path p = Files.write(dir.resolve("wrap.npy"), b.array());
    assertClean(CliRunner.run("stream", "--onnx", dir.resolve("none.onnx").toString(), "--input", p.toString(), "--chunk", "4"),
        "wrap.npy", "overflows");
  }

  // ---- careless input

  @Test
  void inputsOptionIsChecked() {
    FixtureWriter.Written w = write(Fixtures.linearSoftmax(VariableKind.RESOURCE));
    Path out = dir.resolve("m.onnx");
    String[] convert = {"convert", "--graph", w.graph().toString(), "--checkpoint", w.checkpointPrefix().toString(), "--output", out.toString()};
    assertClean(CliRunner.run(concat(convert, "--inputs", "extern_data/placeholders/data/dta:1x-1x8")), "'extern_data/placeholders/data/dta'",
        "no node", DATA);
    assertClean(CliRunner.run(concat(convert, "--inputs", DATA + ":1x-1x40")), DATA, "[1,?,40]", "contradicts", "[?,?,8]");
    assertClean(CliRunner.run(concat(convert, "--inputs", DATA + ":1x-1")), "contradicts");
    assertClean(CliRunner.run(concat(convert, "--inputs", DATA + ":ax3")), "'a' is not a dim");
    assertClean(CliRunner.run(concat(convert, "--inputs", DATA + ":1x-5x8")), "'-5' is not a dim");
    assertFalse(Files.exists(out));
    CliRunner.Run ok = CliRunner.run(concat(convert, "--inputs", DATA + ":1x-1x8"));
    assertEquals(0, ok.exit(), ok.err());
  }

  @Test
  void quantizeExcludeMatchingNothingIsRefused() {
    FixtureWriter.Written w = write(Fixtures.linearSoftmax(VariableKind.RESOURCE));
    Path onnx = convert(w, "m.onnx");
    Path q = dir.resolve("q.onnx");
    assertClean(CliRunner.run("quantize", onnx.toString(), "--output", q.toString(), "--exclude", "outptu"), "--exclude outptu", "matches no node");
    assertFalse(Files.exists(q));
    assertEquals(0, CliRunner.run("quantize", onnx.toString(), "--output", q.toString(), "--exclude", "output").exit());
  }

  @Test
  void scoreRefusesBadTextAndChunk() throws Exception {
    Path vocab = Files.writeString(dir.resolve("vocab.txt"), "{'<s>': 0, '</s>': 0, 'a': 1}");
    Path none = dir.resolve("none.onnx");
    Path latin1 = Files.write(dir.resolve("latin1.txt"), "caf\u00e9\n".getBytes(StandardCharsets.ISO_8859_1));
    assertClean(CliRunner.run("score", "--onnx", none.toString(), "--text", latin1.toString(), "--vocab", vocab.toString()),
        "latin1.txt", "not UTF-8");
    Path empty = Files.writeString(dir.resolve("empty.txt"), "\n  \n");
    assertClean(CliRunner.run("score", "--onnx", none.toString(), "--text", empty.toString(), "--vocab", vocab.toString()),
        "empty.txt", "no sentence");
    Path text = Files.writeString(dir.resolve("t.txt"), "a a\n");
    assertClean(CliRunner.run("score", "--onnx", none.toString(), "--text", text.toString(), "--vocab", vocab.toString(),
        "--chunk", "-2"), "--chunk must be 0 to");
  }

  private static String[] concat(String[] a, String... b) {
    String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }
}
