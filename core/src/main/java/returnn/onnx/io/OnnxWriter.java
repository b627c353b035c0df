package returnn.onnx.io;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import returnn.onnx.ConversionException;
import returnn.onnx.SafePaths;
import returnn.onnx.TempFiles;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * Writes an IR graph of ONNX ops as a ModelProto. Deterministic: the same graph gives the same bytes (topological
 * order with ties broken by insertion order, sorted metadata, no timestamps). Weights over 2 GiB in total go to an
 * external data file beside the model. Files appear whole or not at all (written to temporaries, then moved).
 */
public final class OnnxWriter {
  /** Protobuf cannot hold a message over 2 GiB; leave headroom for the graph itself. */
  static final long EXTERNAL_DATA_THRESHOLD = (2L << 30) - (64L << 20);
  /** Tensors smaller than this stay inline even when the rest goes external. */
  static final long EXTERNAL_MIN_BYTES = 1024;

  private final int opset;
  private final Map<String, String> metadata;
  private final Map<Value, String> names = new IdentityHashMap<>();
  private final Set<String> used = new HashSet<>();
  private final Set<String> domains = new TreeSet<>();
  private boolean external;
  private String externalLocation;
  private final List<Tensor> externalTensors = new ArrayList<>();
  private long externalOffset;

  private final Map<Graph, List<Node>> orders = new IdentityHashMap<>();

  private List<Node> order(Graph g) {
    return orders.computeIfAbsent(g, Graph::topologicalOrder);
  }

  private OnnxWriter(int opset, Map<String, String> metadata) {
    this.opset = opset;
    this.metadata = metadata;
  }

  public static int irVersion(int opset) {
    if (opset >= 23) return 11;
    if (opset >= 21) return 10;
    if (opset >= 19) return 9;
    return 8;
  }

  /** Builds the ModelProto in memory (weights inline); for tests and small models. */
  public static OnnxMl.ModelProto toModel(Graph g, int opset, Map<String, String> metadata) {
    return new OnnxWriter(opset, metadata).model(g);
  }

  /** Writes the model, with external data automatically when the weights exceed what a protobuf can hold. */
  public static void write(Graph g, int opset, Map<String, String> metadata, Path out) {
    write(g, opset, metadata, out, EXTERNAL_DATA_THRESHOLD);
  }

  /** As {@link #write(Graph, int, Map, Path)}, with weights going external above {@code externalThreshold} bytes. */
  public static void write(Graph g, int opset, Map<String, String> metadata, Path out, long externalThreshold) {
    SafePaths.checkTarget(out);
    String name = out.getFileName().toString();
    long weightBytes = 0;
    for (Value c : allConstants(g)) weightBytes += c.constant().byteSize();
    boolean external = weightBytes > externalThreshold;
    Path dir = out.toAbsolutePath().getParent();
    Path tmpModel = null, tmpData = null;
    try {
      Files.createDirectories(dir);
      OnnxMl.ModelProto model;
      String location = null;
      if (external) {
        // The data file is named after its content (MODEL.onnx.<sha-256 prefix>.data) and moved into place first;
        // the model that references it is moved last. A kill in between leaves the old model with its old data
        // (both untouched), never the old model with new data; the same weights give the same name (deterministic).
        OnnxWriter w = new OnnxWriter(opset, metadata);
        w.external = true;
        w.externalLocation = name + ".data";
        w.model(g); // which tensors go external, in order
        tmpData = TempFiles.create(dir, ".data.tmp");
        location = name + "." + w.writeExternal(tmpData) + ".data";
        SafePaths.checkTarget(dir.resolve(location));
        OnnxWriter w2 = new OnnxWriter(opset, metadata);
        w2.external = true;
        w2.externalLocation = location;
        model = w2.model(g);
      } else {
        model = new OnnxWriter(opset, metadata).model(g);
      }
      tmpModel = TempFiles.create(dir, ".tmp");
      try (OutputStream os = Files.newOutputStream(tmpModel)) {
        model.writeTo(os);
      }
      if (tmpData != null) TempFiles.commit(tmpData, dir.resolve(location));
      TempFiles.commit(tmpModel, out);
      removeOtherDataFiles(dir, name, location);
    } catch (IOException e) {
      throw ConversionException.atFile(out, "cannot write model: " + e.getMessage());
    } finally {
      TempFiles.discard(tmpModel);
      TempFiles.discard(tmpData);
    }
  }

  /**
   * Bytes a model takes on disk: the model file plus its external data file ({@code MODEL.onnx.data} or
   * {@code MODEL.onnx.<hash>.data}), if any.
   */
  public static long bytesOnDisk(Path model) throws IOException {
    long n = Files.size(model);
    String name = model.getFileName().toString();
    java.util.regex.Pattern p = dataFiles(name);
    try (java.nio.file.DirectoryStream<Path> s = Files.newDirectoryStream(model.toAbsolutePath().getParent())) {
      for (Path f : s) if (p.matcher(f.getFileName().toString()).matches() && Files.isRegularFile(f)) n += Files.size(f);
    }
    return n;
  }

  /** The names of a model's external data files: {@code NAME.data}, {@code NAME.<hex>.data}. */
  private static java.util.regex.Pattern dataFiles(String name) {
    return java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(name) + "(\\.[0-9a-f]{16})?\\.data");
  }

  /** External data files a previous model of this name used ({@code NAME.data}, {@code NAME.<hex>.data}), now unreferenced. */
  private static void removeOtherDataFiles(Path dir, String name, String keep) {
    java.util.regex.Pattern p = dataFiles(name);
    try (java.nio.file.DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
      for (Path f : s) {
        String fn = f.getFileName().toString();
        if (!fn.equals(keep) && p.matcher(fn).matches() && Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
          Files.deleteIfExists(f);
        }
      }
    } catch (IOException | RuntimeException ignored) {
      // an unreferenced left-over, not an error
    }
  }

  private static List<Value> allConstants(Graph g) {
    List<Value> r = new ArrayList<>(g.constants());
    for (Node n : g.nodes()) {
      for (Attr a : n.attrs().values()) if (a instanceof Attr.GraphVal gv) r.addAll(allConstants(gv.value()));
    }
    return r;
  }

  /** Writes the external tensors (forced to disk); returns the first 16 hex digits of their SHA-256. */
  private String writeExternal(Path file) throws IOException {
    java.security.MessageDigest sha;
    try {
      sha = java.security.MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      for (Tensor t : externalTensors) {
        ByteBuffer b = t.data();
        sha.update(b.duplicate());
        while (b.hasRemaining()) ch.write(b);
      }
      ch.force(true);
    }
    return java.util.HexFormat.of().formatHex(sha.digest()).substring(0, 16);
  }

  private OnnxMl.ModelProto model(Graph g) {
    assignNames(g);
    OnnxMl.GraphProto gp = graph(g);
    OnnxMl.ModelProto.Builder m = OnnxMl.ModelProto.newBuilder()
        .setIrVersion(irVersion(opset))
        .setProducerName("returnn-onnx")
        .setProducerVersion(Version.VERSION)
        .setGraph(gp);
    m.addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset));
    for (String d : domains) {
      if (!d.isEmpty()) m.addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain(d).setVersion(1));
    }
    new java.util.TreeMap<>(metadata).forEach((k, v) ->
        m.addMetadataProps(OnnxMl.StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
    return m.build();
  }

  /** Unique value names: graph inputs and outputs keep theirs, everything else is de-duplicated in order. */
  private void assignNames(Graph g) {
    for (Value v : g.inputs()) claim(v, true);
    for (Value v : g.outputs()) {
      if (!names.containsKey(v)) claim(v, true);
    }
    claimRest(g);
  }

  private void claimRest(Graph g) {
    for (Value v : g.inputs()) if (!names.containsKey(v)) claim(v, false);
    for (Value v : g.constants()) if (!names.containsKey(v)) claim(v, false);
    for (Node n : order(g)) {
      for (Value v : n.outputs()) if (!names.containsKey(v)) claim(v, false);
      for (Attr a : n.attrs().values()) if (a instanceof Attr.GraphVal gv) claimRest(gv.value());
    }
    for (Value v : g.outputs()) if (!names.containsKey(v)) claim(v, false);
  }

  private void claim(Value v, boolean exact) {
    String n = v.name();
    if (!used.add(n)) {
      if (exact) throw new ConversionException("two graph inputs/outputs are both named '" + n + "'");
      int k = 1;
      while (!used.add(n + "_" + k)) k++;
      n = n + "_" + k;
    }
    names.put(v, n);
  }

  private String nameOf(Value v) {
    if (v == null) return "";
    String n = names.get(v);
    if (n == null) throw new IllegalStateException("value " + v + " is used but defined in no graph being written");
    return n;
  }

  private OnnxMl.GraphProto graph(Graph g) {
    OnnxMl.GraphProto.Builder b = OnnxMl.GraphProto.newBuilder().setName(g.name());
    for (Value v : g.inputs()) b.addInput(valueInfo(v));
    for (Value c : g.constants()) b.addInitializer(tensor(c.constant(), nameOf(c)));
    for (Value v : g.inputs()) if (g.inputDefault(v) != null) b.addInitializer(tensor(g.inputDefault(v), nameOf(v)));
    for (Node n : order(g)) b.addNode(node(n));
    for (Value v : g.outputs()) b.addOutput(valueInfo(v));
    return b.build();
  }

  /** ONNX ops none of whose outputs may be left out (ONNX Runtime refuses the model otherwise). */
  private static final java.util.Set<String> ALL_OUTPUTS_REQUIRED = java.util.Set.of("TopK", "Split", "DynamicQuantizeLinear");

  private OnnxMl.NodeProto node(Node n) {
    if (n.domain().equals(Node.TF)) {
      throw ConversionException.atNode(n.tfName(), n.op(), "TF op left unconverted in the ONNX graph");
    }
    domains.add(n.domain());
    OnnxMl.NodeProto.Builder b = OnnxMl.NodeProto.newBuilder().setOpType(n.op()).setName(n.name());
    if (!n.domain().isEmpty()) b.setDomain(n.domain());
    for (Value v : n.inputs()) b.addInput(nameOf(v));
    // Trailing empty optional inputs are dropped; inner ones stay as "".
    while (b.getInputCount() > 0 && b.getInput(b.getInputCount() - 1).isEmpty()) {
      List<String> l = new ArrayList<>(b.getInputList());
      l.remove(l.size() - 1);
      b.clearInput().addAllInput(l);
    }
    // Loop/If outputs are positional against their body's outputs (ONNX Runtime requires the counts to match), so an
    // unused one keeps its name instead of becoming an empty optional output.
    // TopK's indices, Split's parts and DynamicQuantizeLinear's scale/zero point are not optional either.
    boolean positional = n.attrs().values().stream().anyMatch(a -> a instanceof Attr.GraphVal)
        || n.domain().isEmpty() && ALL_OUTPUTS_REQUIRED.contains(n.op());
    for (Value v : n.outputs()) b.addOutput(positional || v.useCount() > 0 || n.outputs().indexOf(v) == 0 ? nameOf(v) : "");
    while (b.getOutputCount() > 1 && b.getOutput(b.getOutputCount() - 1).isEmpty()) {
      List<String> l = new ArrayList<>(b.getOutputList());
      l.remove(l.size() - 1);
      b.clearOutput().addAllOutput(l);
    }
    for (Map.Entry<String, Attr> e : n.attrs().entrySet()) b.addAttribute(attribute(e.getKey(), e.getValue(), n));
    return b.build();
  }

  private OnnxMl.AttributeProto attribute(String key, Attr a, Node n) {
    OnnxMl.AttributeProto.Builder b = OnnxMl.AttributeProto.newBuilder().setName(key);
    if (a instanceof Attr.Int i) b.setType(OnnxMl.AttributeProto.AttributeType.INT).setI(i.value());
    else if (a instanceof Attr.Bool x) b.setType(OnnxMl.AttributeProto.AttributeType.INT).setI(x.value() ? 1 : 0);
    else if (a instanceof Attr.Float f) b.setType(OnnxMl.AttributeProto.AttributeType.FLOAT).setF(f.value());
    else if (a instanceof Attr.Str s) {
      b.setType(OnnxMl.AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8(s.value()));
    } else if (a instanceof Attr.Ints l) {
      b.setType(OnnxMl.AttributeProto.AttributeType.INTS);
      for (long x : l.values()) b.addInts(x);
    } else if (a instanceof Attr.Floats l) {
      b.setType(OnnxMl.AttributeProto.AttributeType.FLOATS);
      for (float x : l.values()) b.addFloats(x);
    } else if (a instanceof Attr.Strs l) {
      b.setType(OnnxMl.AttributeProto.AttributeType.STRINGS);
      for (String x : l.values()) b.addStrings(ByteString.copyFromUtf8(x));
    } else if (a instanceof Attr.TensorVal t) {
      b.setType(OnnxMl.AttributeProto.AttributeType.TENSOR).setT(tensorInline(t.value(), ""));
    } else if (a instanceof Attr.GraphVal g) {
      b.setType(OnnxMl.AttributeProto.AttributeType.GRAPH).setG(graph(g.value()));
    } else if (a instanceof Attr.Type t) {
      b.setType(OnnxMl.AttributeProto.AttributeType.INT).setI(t.value().onnxCode);
    } else {
      throw ConversionException.atNode(n.tfName(), n.op(), "attribute " + key + " has no ONNX form: " + a);
    }
    return b.build();
  }

  private OnnxMl.TensorProto tensor(Tensor t, String name) {
    if (external && t.dtype() != DType.STRING && t.byteSize() >= EXTERNAL_MIN_BYTES) {
      OnnxMl.TensorProto.Builder b = header(t, name);
      b.setDataLocation(OnnxMl.TensorProto.DataLocation.EXTERNAL);
      b.addExternalData(kv("location", externalLocation));
      b.addExternalData(kv("offset", Long.toString(externalOffset)));
      b.addExternalData(kv("length", Long.toString(t.byteSize())));
      externalTensors.add(t);
      externalOffset += t.byteSize();
      return b.build();
    }
    return tensorInline(t, name);
  }

  private static OnnxMl.StringStringEntryProto kv(String k, String v) {
    return OnnxMl.StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
  }

  private static OnnxMl.TensorProto.Builder header(Tensor t, String name) {
    OnnxMl.TensorProto.Builder b = OnnxMl.TensorProto.newBuilder().setDataType(onnxType(t.dtype()));
    if (!name.isEmpty()) b.setName(name);
    for (long d : t.shape()) b.addDims(d);
    return b;
  }

  static OnnxMl.TensorProto tensorInline(Tensor t, String name) {
    OnnxMl.TensorProto.Builder b = header(t, name);
    if (t.dtype() == DType.STRING) {
      for (byte[] s : t.strings()) b.addStringData(ByteString.copyFrom(s));
    } else {
      b.setRawData(ByteString.copyFrom(t.data()));
    }
    return b.build();
  }

  static int onnxType(DType t) {
    if (t.onnxCode < 0) throw new ConversionException("type " + t + " cannot appear in an ONNX model");
    return t.onnxCode;
  }

  private OnnxMl.ValueInfoProto valueInfo(Value v) {
    OnnxMl.TypeProto.Tensor.Builder tt = OnnxMl.TypeProto.Tensor.newBuilder();
    if (v.dtype() == null) throw new ConversionException("value '" + v.name() + "' has no known type");
    tt.setElemType(onnxType(v.dtype()));
    Shape s = v.shape();
    if (s.hasRank()) {
      OnnxMl.TensorShapeProto.Builder sp = OnnxMl.TensorShapeProto.newBuilder();
      for (Dim d : s.dims()) {
        OnnxMl.TensorShapeProto.Dimension.Builder db = OnnxMl.TensorShapeProto.Dimension.newBuilder();
        if (d.isFixed()) db.setDimValue(d.value());
        else if (d.isSymbolic()) db.setDimParam(d.symbol());
        sp.addDim(db);
      }
      tt.setShape(sp);
    }
    return OnnxMl.ValueInfoProto.newBuilder().setName(nameOf(v))
        .setType(OnnxMl.TypeProto.newBuilder().setTensorType(tt)).build();
  }

  /** Metadata as a map, for callers that add provenance. */
  public static Map<String, String> metadata() {
    return new LinkedHashMap<>();
  }
}
