package returnn.onnx.tf;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.TextFormat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import returnn.onnx.ConversionException;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.OpList;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

/**
 * Reads a TF graph in any form RETURNN's {@code compile_tf_graph.py} writes ({@code .pb}, {@code .pbtxt},
 * {@code .meta}, {@code .metatxt}) or a SavedModel directory. The format is chosen by the extension; a
 * SavedModel by being a directory holding {@code saved_model.pb}.
 */
public final class GraphReader {
  private GraphReader() {}

  public static TfModel read(Path path) {
    if (Files.isDirectory(path)) return readSavedModel(path);
    if (!Files.isRegularFile(path)) throw ConversionException.atFile(path, "no such graph file");
    String name = path.getFileName().toString();
    if (name.endsWith(".pbtxt")) {
      GraphDef g = parseText(path, GraphDef.newBuilder()).build();
      return new TfModel(g, path, TfModel.Format.GRAPHDEF_TEXT, null, OpList.getDefaultInstance(), Map.of(), Map.of(), null);
    }
    if (name.endsWith(".metatxt")) {
      return fromMeta(parseText(path, MetaGraphDef.newBuilder()).build(), path, TfModel.Format.METAGRAPH_TEXT);
    }
    if (name.endsWith(".meta")) {
      return fromMeta(parseBinary(path, MetaGraphDef.parser()), path, TfModel.Format.METAGRAPH_BINARY);
    }
    if (name.endsWith(".pb")) {
      GraphDef g = parseBinary(path, GraphDef.parser());
      return new TfModel(g, path, TfModel.Format.GRAPHDEF_BINARY, null, OpList.getDefaultInstance(), Map.of(), Map.of(), null);
    }
    throw ConversionException.atFile(path, "unknown graph format (expected .pb, .pbtxt, .meta, .metatxt or a SavedModel directory)");
  }

  private static TfModel fromMeta(MetaGraphDef meta, Path path, TfModel.Format format) {
    if (!meta.hasGraphDef()) throw ConversionException.atFile(path, "MetaGraphDef has no graph_def");
    return new TfModel(meta.getGraphDef(), path, format, meta.hasSaverDef() ? meta.getSaverDef() : null,
        meta.getMetaInfoDef().getStrippedOpList(), Map.of(), Map.of(), null);
  }

  private static TfModel readSavedModel(Path dir) {
    Path pb = dir.resolve("saved_model.pb");
    if (!Files.isRegularFile(pb)) throw ConversionException.atFile(dir, "directory holds no saved_model.pb");
    SavedModel sm = parseBinary(pb, SavedModel.parser());
    MetaGraphDef meta = null;
    for (MetaGraphDef m : sm.getMetaGraphsList()) {
      if (m.getMetaInfoDef().getTagsList().contains("serve")) meta = m;
    }
    if (meta == null && sm.getMetaGraphsCount() > 0) meta = sm.getMetaGraphs(0);
    if (meta == null) throw ConversionException.atFile(pb, "SavedModel holds no MetaGraphDef");
    Map<String, String> ins = new LinkedHashMap<>();
    Map<String, String> outs = new LinkedHashMap<>();
    SignatureDef sig = meta.getSignatureDefMap().get("serving_default");
    if (sig != null) {
      sig.getInputsMap().entrySet().stream().sorted(Map.Entry.comparingByKey())
          .forEach(e -> ins.put(e.getKey(), tensorName(e.getValue())));
      sig.getOutputsMap().entrySet().stream().sorted(Map.Entry.comparingByKey())
          .forEach(e -> outs.put(e.getKey(), tensorName(e.getValue())));
    }
    Path vars = dir.resolve("variables").resolve("variables");
    return new TfModel(meta.getGraphDef(), dir, TfModel.Format.SAVED_MODEL, meta.hasSaverDef() ? meta.getSaverDef() : null,
        meta.getMetaInfoDef().getStrippedOpList(), ins, outs,
        Files.exists(vars.resolveSibling("variables.index")) ? vars : null);
  }

  private static String tensorName(TensorInfo info) {
    return info.getName();
  }

  /** Message nesting accepted in graph files, binary and text. */
  static final int RECURSION_LIMIT = 100;

  private static <T extends Message> T parseBinary(Path path, com.google.protobuf.Parser<T> parser) {
    try {
      byte[] bytes = Files.readAllBytes(path);
      com.google.protobuf.CodedInputStream in = com.google.protobuf.CodedInputStream.newInstance(bytes);
      // protobuf's default (and TensorFlow's): real graphs nest about 10 deep; a hostile file nested 1000 deep must
      // be refused here rather than overflow the Java stack.
      in.setRecursionLimit(RECURSION_LIMIT);
      T msg = parser.parseFrom(in);
      in.checkLastTagWas(0);
      return msg;
    } catch (InvalidProtocolBufferException e) {
      throw ConversionException.atFile(path, "malformed protobuf (" + e.getMessage() + ")");
    } catch (IOException e) {
      throw ConversionException.atFile(path, "cannot read: " + e.getMessage());
    }
  }

  @SuppressWarnings("unchecked")
  private static <B extends Message.Builder> B parseText(Path path, B builder) {
    try {
      TextFormat.Parser parser = TextFormat.Parser.newBuilder().setAllowUnknownFields(false).setRecursionLimit(RECURSION_LIMIT).build();
      parser.merge(Files.readString(path, StandardCharsets.UTF_8), builder);
      return builder;
    } catch (TextFormat.ParseException e) {
      throw ConversionException.atFile(path, "malformed text protobuf at " + e.getLine() + ":" + e.getColumn() + " (" + e.getMessage() + ")");
    } catch (IOException e) {
      throw ConversionException.atFile(path, "cannot read: " + e.getMessage());
    }
  }
}
