package returnn.onnx.reference;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import returnn.onnx.ir.Tensor;

/**
 * Writes a V2 checkpoint ({@code <prefix>.index} + {@code <prefix>.data-00000-of-00001}) with TensorFlow's
 * own {@code SaveV2} kernel, the way a RETURNN {@code Saver} does: keys are variable names without
 * {@code :0} (RETURNN_GRAPHS.md "How a user gets the graph").
 */
public final class TfCheckpointWriter {
  private TfCheckpointWriter() {}

  /** Saves {@code values} (key → tensor) under {@code prefix}; creates the parent directory. */
  public static void write(Path prefix, Map<String, Tensor> values) {
    try {
      if (prefix.toAbsolutePath().getParent() != null) Files.createDirectories(prefix.toAbsolutePath().getParent());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // Python's Saver passes names sorted; keep the same order.
    Map<String, Tensor> sorted = new TreeMap<>(values);
    GraphDef.Builder g = GraphDef.newBuilder();
    g.addNode(TfProtos.constNode("save/Const", Tensor.ofStrings(new long[0], List.of(utf8(prefix.toString())))));
    List<byte[]> names = new ArrayList<>();
    List<byte[]> slices = new ArrayList<>();
    AttrValue.ListValue.Builder dtypes = AttrValue.ListValue.newBuilder();
    NodeDef.Builder save = NodeDef.newBuilder().setName("save/SaveV2").setOp("SaveV2")
        .addInput("save/Const").addInput("save/SaveV2/tensor_names").addInput("save/SaveV2/shape_and_slices");
    int i = 0;
    for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
      names.add(utf8(e.getKey()));
      slices.add(new byte[0]);
      dtypes.addType(TfProtos.dataType(e.getValue().dtype()));
      String c = "save/value_" + i++;
      g.addNode(TfProtos.constNode(c, e.getValue()));
      save.addInput(c);
    }
    long n = names.size();
    g.addNode(TfProtos.constNode("save/SaveV2/tensor_names", Tensor.ofStrings(new long[] {n}, names)));
    g.addNode(TfProtos.constNode("save/SaveV2/shape_and_slices", Tensor.ofStrings(new long[] {n}, slices)));
    save.putAttr("dtypes", AttrValue.newBuilder().setList(dtypes).build());
    g.addNode(save);
    try (Graph graph = new Graph()) {
      graph.importGraphDef(g.build());
      try (Session s = new Session(graph)) {
        s.runner().addTarget("save/SaveV2").run().close();
      }
    }
  }

  /** The global_step entry RETURNN checkpoints carry (int64 scalar). */
  public static Tensor globalStep(long step) {
    return Tensor.ofLongs(new long[0], step);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }
}
