package returnn.onnx.io;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.CodedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ConversionException;
import returnn.onnx.SafePaths;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.eval.TypeInference;

/**
 * Reads an ONNX model into the IR, so that IR passes (quantization) can run on any .onnx file and {@link OnnxWriter}
 * can write it again. Initializers and {@code Constant} nodes become constants (external data is memory-mapped on
 * first use), Loop/If/Scan bodies become nested graphs reading outer values by name, and metadata is kept. Value types
 * come from the model's inputs, outputs and {@code value_info}, and where missing from {@link TypeInference}.
 *
 * <pre>{@code
 * OnnxReader.Model m = OnnxReader.read(Path.of("model.onnx"));
 * OnnxWriter.write(m.graph(), m.opset(), m.metadata(), Path.of("copy.onnx"));
 * }</pre>
 */
public final class OnnxReader {
  /** A model read into the IR: its main graph, the ai.onnx opset it imports, and its metadata. */
  public record Model(Graph graph, int opset, Map<String, String> metadata, java.util.Set<Path> externalFiles) {
    public Model(Graph graph, int opset, Map<String, String> metadata) {
      this(graph, opset, metadata, java.util.Set.of());
    }
  }

  /** Domains {@link OnnxWriter} imports at version 1; others could not be written back faithfully. */
  private static final List<String> WRITABLE_DOMAINS = List.of(Node.ONNX, Node.MS);

  private final Path file;
  private final int opset;
  /** The external data files the model refers to (all inside the model's folder). */
  private final java.util.Set<Path> externalFiles = new java.util.LinkedHashSet<>();

  private OnnxReader(Path file, int opset) {
    this.file = file;
    this.opset = opset;
  }

  public static Model read(Path file) {
    OnnxMl.ModelProto m;
    try (InputStream in = Files.newInputStream(file)) {
      CodedInputStream cis = CodedInputStream.newInstance(in);
      cis.setSizeLimit(Integer.MAX_VALUE);
      m = OnnxMl.ModelProto.parseFrom(cis);
    } catch (IOException e) {
      throw ConversionException.atFile(file, "cannot read an ONNX model: " + e.getMessage());
    }
    return read(m, file);
  }

  /** Reads a parsed model; {@code file} names it in errors and locates external data (its directory). */
  public static Model read(OnnxMl.ModelProto m, Path file) {
    if (!m.hasGraph()) throw ConversionException.atFile(file, "not an ONNX model (no graph)");
    if (m.getFunctionsCount() > 0) throw ConversionException.atFile(file, "model-local functions are not supported");
    int opset = -1;
    for (OnnxMl.OperatorSetIdProto o : m.getOpsetImportList()) {
      String d = domain(o.getDomain());
      if (d.isEmpty()) opset = (int) o.getVersion();
      else if (!WRITABLE_DOMAINS.contains(d) || o.getVersion() != 1) {
        throw ConversionException.atFile(file, "imports domain '" + d + "' version " + o.getVersion()
            + "; only ai.onnx and com.microsoft version 1 can be written back");
      }
    }
    if (opset < 0) throw ConversionException.atFile(file, "imports no ai.onnx opset");
    OnnxReader r = new OnnxReader(file, opset);
    Graph g = new Graph(m.getGraph().getName());
    r.graph(m.getGraph(), g, new Scope(null));
    Map<String, String> metadata = new LinkedHashMap<>();
    for (OnnxMl.StringStringEntryProto e : m.getMetadataPropsList()) metadata.put(e.getKey(), e.getValue());
    return new Model(g, opset, metadata, java.util.Collections.unmodifiableSet(r.externalFiles));
  }

  /** Values visible by name: this graph's, then enclosing graphs'. */
  private record Scope(Scope outer, Map<String, Value> values) {
    Scope(Scope outer) {
      this(outer, new HashMap<>());
    }

    Value lookup(String name) {
      for (Scope s = this; s != null; s = s.outer) {
        Value v = s.values.get(name);
        if (v != null) return v;
      }
      return null;
    }
  }

  private void graph(OnnxMl.GraphProto gp, Graph g, Scope outer) {
    Scope scope = new Scope(outer);
    if (gp.getSparseInitializerCount() > 0) throw fail("graph '" + gp.getName() + "' has sparse initializers (not supported)");
    for (OnnxMl.TensorProto t : gp.getInitializerList()) {
      Value c = g.addConstant(t.getName(), tensor(t));
      scope.values.put(t.getName(), c);
    }
    for (OnnxMl.ValueInfoProto vi : gp.getInputList()) {
      // Before IR version 4 initializers were listed as inputs too (as overridable defaults); they stay constants.
      if (scope.values.containsKey(vi.getName())) continue;
      Value v = g.addInput(vi.getName(), dtype(vi), shape(vi));
      scope.values.put(vi.getName(), v);
    }
    Map<String, OnnxMl.ValueInfoProto> infos = new HashMap<>();
    for (OnnxMl.ValueInfoProto vi : gp.getValueInfoList()) infos.put(vi.getName(), vi);
    for (OnnxMl.ValueInfoProto vi : gp.getOutputList()) infos.put(vi.getName(), vi);
    for (OnnxMl.NodeProto np : gp.getNodeList()) node(np, g, scope, infos);
    for (OnnxMl.ValueInfoProto vi : gp.getOutputList()) {
      Value v = scope.lookup(vi.getName());
      if (v == null) throw fail("graph '" + gp.getName() + "' output '" + vi.getName() + "' is defined nowhere");
      typeFrom(v, vi);
      g.addOutput(v);
    }
  }

  private void node(OnnxMl.NodeProto np, Graph g, Scope scope, Map<String, OnnxMl.ValueInfoProto> infos) {
    String domain = domain(np.getDomain());
    if (domain.isEmpty() && np.getOpType().equals("Constant")) {
      Value c = g.addConstant(np.getOutput(0), constantValue(np));
      scope.values.put(np.getOutput(0), c);
      return;
    }
    List<Value> inputs = new ArrayList<>();
    for (String in : np.getInputList()) {
      if (in.isEmpty()) {
        inputs.add(null);
        continue;
      }
      Value v = scope.lookup(in);
      if (v == null) throw fail("node '" + np.getName() + "' (" + np.getOpType() + ") reads '" + in + "', which nothing before it defines");
      inputs.add(v);
    }
    Node n = g.addNode(domain, np.getOpType(), np.getName().isEmpty() ? np.getOpType() : np.getName(), null, inputs,
        np.getOutputCount());
    for (OnnxMl.AttributeProto a : np.getAttributeList()) n.set(a.getName(), attribute(a, n, g, scope));
    if (domain.isEmpty()) checkSubgraphs(n);
    for (int i = 0; i < np.getOutputCount(); i++) {
      String name = np.getOutput(i);
      if (name.isEmpty()) continue;
      Value v = n.output(i);
      g.reserveName(name);
      v.setName(name);
      scope.values.put(name, v);
      OnnxMl.ValueInfoProto vi = infos.get(name);
      if (vi != null) typeFrom(v, vi);
    }
    TypeInference.infer(n, opset);
  }

  /**
   * Loop, Scan and If carry their bodies as graph attributes whose outputs the node's outputs are typed from: a node
   * without them, or with fewer body outputs than it needs, is malformed (found by fuzzing the reader).
   */
  private void checkSubgraphs(Node n) {
    List<String> names = switch (n.op()) {
      case "Loop", "Scan" -> List.of("body");
      case "If" -> List.of("then_branch", "else_branch");
      default -> List.of();
    };
    for (String a : names) {
      if (!(n.attr(a) instanceof Attr.GraphVal gv)) {
        throw fail("node '" + n.name() + "' (" + n.op() + ") has no graph attribute '" + a + "'");
      }
      int needed = n.outputs().size() + (n.op().equals("Loop") ? 1 : 0); // a Loop body also returns its condition
      if (gv.value().outputs().size() < needed) {
        throw fail("node '" + n.name() + "' (" + n.op() + ") has " + n.outputs().size() + " outputs, but its '" + a
            + "' returns only " + gv.value().outputs().size());
      }
    }
  }

  private Attr attribute(OnnxMl.AttributeProto a, Node n, Graph g, Scope scope) {
    return switch (a.getType()) {
      case INT -> new Attr.Int(a.getI());
      case FLOAT -> new Attr.Float(a.getF());
      case STRING -> new Attr.Str(a.getS().toStringUtf8());
      case INTS -> new Attr.Ints(a.getIntsList().stream().mapToLong(Long::longValue).toArray());
      case FLOATS -> {
        float[] f = new float[a.getFloatsCount()];
        for (int i = 0; i < f.length; i++) f[i] = a.getFloats(i);
        yield new Attr.Floats(f);
      }
      case STRINGS -> new Attr.Strs(a.getStringsList().stream().map(s -> s.toStringUtf8()).toList());
      case TENSOR -> new Attr.TensorVal(tensor(a.getT()));
      case GRAPH -> {
        Graph sub = g.newSubgraph(a.getG().getName());
        graph(a.getG(), sub, scope);
        yield new Attr.GraphVal(sub);
      }
      default -> throw fail("node '" + n.name() + "' (" + n.op() + ") has attribute '" + a.getName() + "' of type "
          + a.getType() + ", which is not supported");
    };
  }

  /** A Constant node's value: {@code value} or one of the typed shorthands. */
  private Tensor constantValue(OnnxMl.NodeProto np) {
    for (OnnxMl.AttributeProto a : np.getAttributeList()) {
      switch (a.getName()) {
        case "value": return tensor(a.getT());
        case "value_float": return Tensor.scalarFloat(a.getF());
        case "value_floats": {
          float[] f = new float[a.getFloatsCount()];
          for (int i = 0; i < f.length; i++) f[i] = a.getFloats(i);
          return Tensor.ofFloats(new long[] {f.length}, f);
        }
        case "value_int": return Tensor.scalarLong(a.getI());
        case "value_ints": return Tensor.vectorLongs(a.getIntsList().stream().mapToLong(Long::longValue).toArray());
        default: break;
      }
    }
    throw fail("Constant node '" + np.getName() + "' has no supported value attribute");
  }

  Tensor tensor(OnnxMl.TensorProto t) {
    DType dt = DType.fromOnnx(t.getDataType());
    long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    if (dt != DType.STRING) byteSize(t, dt, shape); // refuses negative dims and overflowing sizes
    long n = Tensor.count(shape);
    if (t.hasSegment()) throw fail("tensor '" + t.getName() + "' is segmented (not supported)");
    if (t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL) return external(t, dt, shape);
    if (dt == DType.STRING) return Tensor.ofStrings(shape, t.getStringDataList().stream().map(s -> s.toByteArray()).toList());
    if (!t.getRawData().isEmpty()) return Tensor.of(dt, shape, t.getRawData().asReadOnlyByteBuffer());
    int have = switch (dt) {
      case FLOAT -> t.getFloatDataCount();
      case DOUBLE -> t.getDoubleDataCount();
      case INT64 -> t.getInt64DataCount();
      case UINT32, UINT64 -> t.getUint64DataCount();
      default -> t.getInt32DataCount();
    };
    if (have != n) throw fail("tensor '" + t.getName() + "' has " + have + " values; its shape " + java.util.Arrays.toString(shape) + " needs " + n);
    ByteBuffer b = Tensor.alloc(n * dt.size);
    for (int i = 0; i < n; i++) {
      switch (dt) {
        case FLOAT -> b.putFloat(i * 4, t.getFloatData(i));
        case DOUBLE -> b.putDouble(i * 8, t.getDoubleData(i));
        case INT64 -> b.putLong(i * 8, t.getInt64Data(i));
        case INT32 -> b.putInt(i * 4, t.getInt32Data(i));
        case INT16, UINT16, FLOAT16, BFLOAT16 -> b.putShort(i * 2, (short) t.getInt32Data(i));
        case INT8, UINT8, BOOL -> b.put(i, (byte) t.getInt32Data(i));
        case UINT32 -> b.putInt(i * 4, (int) t.getUint64Data(i));
        case UINT64 -> b.putLong(i * 8, t.getUint64Data(i));
        default -> throw fail("tensor '" + t.getName() + "' of type " + dt + " is not supported");
      }
    }
    return Tensor.of(dt, shape, b);
  }

  /** Data in a file beside the model ({@code location}, {@code offset}, {@code length}), mapped on first use. */
  private Tensor external(OnnxMl.TensorProto t, DType dt, long[] shape) {
    Map<String, String> kv = new HashMap<>();
    for (OnnxMl.StringStringEntryProto e : t.getExternalDataList()) kv.put(e.getKey(), e.getValue());
    String location = kv.get("location");
    if (location == null) throw fail("tensor '" + t.getName() + "' has external data without a location");
    // As the ONNX spec and ONNX Runtime require: only files in the model's folder (no absolute path, no '..', no
    // symbolic link leading out), so that a hostile model cannot make us read (and copy into our output) any file.
    Path data = SafePaths.inside(file.toAbsolutePath().getParent(), location,
        file + ": external data of tensor '" + t.getName() + "'");
    externalFiles.add(data);
    long needed = byteSize(t, dt, shape);
    long offset = externalNumber(t, kv, "offset", 0);
    long length = externalNumber(t, kv, "length", needed);
    if (length != needed) {
      throw fail("tensor '" + t.getName() + "' has external data of " + length + " bytes; its type and shape need " + needed);
    }
    return Tensor.lazy(dt, shape, () -> {
      try (FileChannel ch = FileChannel.open(data, StandardOpenOption.READ)) {
        if (offset > ch.size() || length > ch.size() - offset) {
          throw ConversionException.atFile(data, "tensor '" + t.getName() + "' runs past the end of the file");
        }
        return ch.map(FileChannel.MapMode.READ_ONLY, offset, length);
      } catch (IOException e) {
        throw ConversionException.atFile(data, "cannot read external data of '" + t.getName() + "': " + e.getMessage());
      }
    });
  }

  private long externalNumber(OnnxMl.TensorProto t, Map<String, String> kv, String key, long dflt) {
    String v = kv.get(key);
    if (v == null) return dflt;
    try {
      long n = Long.parseLong(v.trim());
      if (n >= 0) return n;
    } catch (NumberFormatException e) {
      // below
    }
    throw fail("tensor '" + t.getName() + "' has external data " + key + " '" + v + "' (not a byte count)");
  }

  /** Bytes the tensor's data must have, refusing negative dims and sizes that overflow. */
  private long byteSize(OnnxMl.TensorProto t, DType dt, long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) throw fail("tensor '" + t.getName() + "' has a negative dim " + java.util.Arrays.toString(shape));
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        throw fail("tensor '" + t.getName() + "' has an impossible shape " + java.util.Arrays.toString(shape) + " (size overflows)");
      }
    }
    try {
      return Math.multiplyExact(n, (long) Math.max(dt.size, 1));
    } catch (ArithmeticException e) {
      throw fail("tensor '" + t.getName() + "' has an impossible shape " + java.util.Arrays.toString(shape) + " (size overflows)");
    }
  }

  private DType dtype(OnnxMl.ValueInfoProto vi) {
    if (!vi.getType().hasTensorType()) {
      throw fail("value '" + vi.getName() + "' is not a tensor (" + vi.getType().getValueCase() + "); not supported");
    }
    return DType.fromOnnx(vi.getType().getTensorType().getElemType());
  }

  private static Shape shape(OnnxMl.ValueInfoProto vi) {
    OnnxMl.TypeProto.Tensor tt = vi.getType().getTensorType();
    if (!tt.hasShape()) return Shape.UNKNOWN;
    List<Dim> dims = new ArrayList<>();
    for (OnnxMl.TensorShapeProto.Dimension d : tt.getShape().getDimList()) {
      dims.add(d.hasDimValue() ? Dim.of(d.getDimValue()) : d.hasDimParam() ? Dim.sym(d.getDimParam()) : Dim.UNKNOWN);
    }
    return Shape.of(dims);
  }

  private void typeFrom(Value v, OnnxMl.ValueInfoProto vi) {
    if (!vi.hasType()) return;
    if (v.dtype() == null) v.setDtype(dtype(vi));
    if (!v.shape().hasRank()) v.setShape(shape(vi));
  }

  private static String domain(String d) {
    return d.equals("ai.onnx") ? Node.ONNX : d;
  }

  private ConversionException fail(String message) {
    return ConversionException.atFile(file, message);
  }
}
