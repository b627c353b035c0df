package returnn.onnx.io;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import returnn.onnx.ConversionException;
import returnn.onnx.SafePaths;

/**
 * What is checked in a model file before ONNX Runtime opens it. Returns the op types the model uses
 * ({@code domain:op_type}, the domain empty for ai.onnx), for guards against inputs ONNX Runtime crashes on.
 *
 * <p>Checks that every external-data {@code location} in it stays inside the
 * model's folder ({@link SafePaths#inside}). ONNX Runtime 1.23 itself follows absolute paths and {@code ../}, so a
 * hostile model could make {@code run} read any file and hand its bytes back as an output.
 *
 * <p>Scans the protobuf wire format without building the message: weights are skipped, not copied, so checking a
 * 2 GB model costs a pass over its structure, not 2 GB of heap. Looks at every TensorProto the model can hold:
 * initializers, sparse initializers, tensor attributes of nodes, in subgraphs, functions and training info.
 */
public final class ModelPrecheck {
  /** Subgraph nesting we follow; deeper models are refused (ONNX Runtime would need as deep a native stack). */
  static final int MAX_DEPTH = 64;

  private final Path model;
  private final Path dir;
  private final java.util.Set<String> ops = new java.util.TreeSet<>();

  private ModelPrecheck(Path model) {
    this.model = model;
    this.dir = model.toAbsolutePath().getParent();
  }

  /** The op types used anywhere in the model ({@code com.microsoft:MultiHeadAttention}, {@code :MatMul}). */
  public static java.util.Set<String> check(Path model) {
    ModelPrecheck c = new ModelPrecheck(model);
    try (InputStream in = Files.newInputStream(model)) {
      CodedInputStream s = CodedInputStream.newInstance(in);
      s.setSizeLimit(Integer.MAX_VALUE);
      c.message(s, Kind.MODEL, 0);
      return java.util.Collections.unmodifiableSet(c.ops);
    } catch (IOException e) {
      throw ConversionException.atFile(model, "cannot read an ONNX model: " + e.getMessage());
    }
  }

  private enum Kind { MODEL, GRAPH, NODE, ATTRIBUTE, TENSOR, SPARSE_TENSOR, FUNCTION, TRAINING_INFO, ENTRY }

  /** The kind of message in field {@code field} of a {@code kind} message, or null for fields to skip. */
  private static Kind child(Kind kind, int field) {
    return switch (kind) {
      case MODEL -> field == 7 ? Kind.GRAPH : field == 25 ? Kind.FUNCTION : field == 20 ? Kind.TRAINING_INFO : null;
      case GRAPH -> field == 1 ? Kind.NODE : field == 5 ? Kind.TENSOR : field == 15 ? Kind.SPARSE_TENSOR : null;
      case NODE -> field == 5 ? Kind.ATTRIBUTE : null;
      case ATTRIBUTE -> switch (field) {
        case 5, 10 -> Kind.TENSOR;
        case 6, 11 -> Kind.GRAPH;
        case 22, 23 -> Kind.SPARSE_TENSOR;
        default -> null;
      };
      case SPARSE_TENSOR -> field == 1 || field == 2 ? Kind.TENSOR : null;
      case FUNCTION -> field == 7 ? Kind.NODE : null;
      case TRAINING_INFO -> field == 1 || field == 2 ? Kind.GRAPH : null;
      case TENSOR -> field == 13 ? Kind.ENTRY : null;
      case ENTRY -> null;
    };
  }

  private String message(CodedInputStream s, Kind kind, int depth) throws IOException {
    if (depth > MAX_DEPTH) throw ConversionException.atFile(model, "nested deeper than " + MAX_DEPTH + " levels");
    String key = null, value = null, tensorName = null, opType = null, domain = "";
    while (true) {
      int tag = s.readTag();
      if (tag == 0) break;
      int field = WireFormat.getTagFieldNumber(tag);
      boolean delimited = WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED;
      Kind c = delimited ? child(kind, field) : null;
      if (kind == Kind.ENTRY && delimited && (field == 1 || field == 2)) {
        String v = s.readStringRequireUtf8();
        if (field == 1) key = v;
        else value = v;
      } else if (kind == Kind.TENSOR && delimited && field == 8) {
        tensorName = s.readStringRequireUtf8();
      } else if (kind == Kind.NODE && delimited && (field == 4 || field == 7)) {
        String v = s.readStringRequireUtf8();
        if (field == 4) opType = v;
        else domain = v;
      } else if (c != null) {
        int limit = s.pushLimit(s.readRawVarint32());
        String location = message(s, c, depth + 1);
        s.popLimit(limit);
        if (c == Kind.ENTRY && location != null) {
          SafePaths.inside(dir, location, model + ": external data" + (tensorName == null ? "" : " of tensor '" + tensorName + "'"));
        }
      } else if (!s.skipField(tag)) {
        break;
      }
    }
    if (kind == Kind.NODE && opType != null) ops.add(("ai.onnx".equals(domain) ? "" : domain) + ":" + opType);
    return kind == Kind.ENTRY && "location".equals(key) ? value : null;
  }
}
