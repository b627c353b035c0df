package returnn.onnx.cli;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import returnn.onnx.Converter;
import returnn.onnx.ConvertOptions;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.ir.Tensor;
import returnn.onnx.io.OnnxWriter;
import returnn.onnx.runtime.Npy;
import returnn.onnx.tf.checkpoint.CheckpointWriter;

/**
 * Writes the seeds of {@link ReaderFuzzTest} from the fixtures:
 * {@code java -cp ... returnn.onnx.cli.FuzzSeeds cli/src/test/resources/returnn/onnx/cli/ReaderFuzzTestInputs}.
 */
final class FuzzSeeds {
  private FuzzSeeds() {}

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args[0]);
    Path work = Files.createTempDirectory("fuzz-seeds");
    Fixture f = Fixtures.linearSoftmax(VariableKind.RESOURCE);
    GraphFormat[] formats = {GraphFormat.PB, GraphFormat.META, GraphFormat.PBTXT, GraphFormat.METATXT};
    FixtureWriter.Written w = null;
    for (int i = 0; i < formats.length; i++) {
      w = f.writeWithoutTf(work.resolve("f" + i), formats[i]);
      seed(out.resolve("graph"), "linear_softmax." + i, concat(new byte[] {(byte) i}, Files.readAllBytes(w.graph())));
    }
    byte[] index = Files.readAllBytes(Path.of(w.checkpointPrefix() + ".index"));
    byte[] data = Files.readAllBytes(Path.of(w.checkpointPrefix() + ".data-00000-of-00001"));
    seed(out.resolve("checkpoint"), "linear_softmax", concat(ByteBuffer.allocate(4).putInt(index.length).array(), index, data));
    seed(out.resolve("checkpoint"), "lstm_names_snappy", snappyCheckpoint(work.resolve("snappy/ckpt")));
    seed(out.resolve("npy"), "f32_2x3", Npy.toBytes(Tensor.ofFloats(new long[] {2, 3}, 1, 2, 3, 4, 5, 6)));
    seed(out.resolve("npy"), "i64_4", Npy.toBytes(Tensor.ofLongs(new long[] {4}, 1, 2, 3, 4)));
    Converter.Result r = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), java.util.List.of()));
    Path onnx = work.resolve("m.onnx");
    r.write(onnx);
    seed(out.resolve("onnx"), "linear_softmax", Files.readAllBytes(onnx));
    Path ext = work.resolve("ext/m.onnx");
    OnnxWriter.write(r.graph(), r.opset(), Map.of(), ext, 0);
    seed(out.resolve("onnx"), "linear_softmax_external", Files.readAllBytes(ext));
    try (var files = Files.walk(work)) {
      for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    }
    seed(out.resolve("vocabulary"), "small", "{'<s>': 0, '</s>': 0, 'the': 1, \"it's\": 2, u'x': 3}\n".getBytes(StandardCharsets.UTF_8));
  }

  /** A checkpoint whose index blocks are snappy-compressed (RETURNN-like names, so compression pays). */
  static byte[] snappyCheckpoint(Path prefix) throws Exception {
    Map<String, Tensor> vars = new java.util.TreeMap<>();
    for (int i = 0; i < 6; i++) {
      vars.put("lstm" + i + "_fw/rec/W_re", Tensor.ofFloats(new long[] {2}, i, -i));
      vars.put("lstm" + i + "_fw/rec/W", Tensor.ofFloats(new long[] {1}, i));
      vars.put("lstm" + i + "_fw/rec/b", Tensor.ofInts(new long[] {1}, i));
    }
    CheckpointWriter.write(prefix, vars, 1, true);
    byte[] index = Files.readAllBytes(Path.of(prefix + ".index"));
    byte[] data = Files.readAllBytes(Path.of(prefix + ".data-00000-of-00001"));
    return concat(ByteBuffer.allocate(4).putInt(index.length).array(), index, data);
  }

  private static void seed(Path dir, String name, byte[] bytes) throws Exception {
    Files.createDirectories(dir);
    Files.write(dir.resolve(name), bytes);
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    for (byte[] p : parts) o.writeBytes(p);
    return o.toByteArray();
  }
}
