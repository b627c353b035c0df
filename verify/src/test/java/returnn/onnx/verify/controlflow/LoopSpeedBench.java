package returnn.onnx.verify.controlflow;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.FixtureWriter;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.loops.LoopFixtures;
import returnn.onnx.ir.Tensor;
import returnn.onnx.reference.TfProtos;
import returnn.onnx.reference.TfTensors;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.tf.TensorRef;

/**
 * ONNX Runtime vs TensorFlow on the {@code vanillalstm} fixture (a TF1 while loop converted to an ONNX Loop): median
 * wall time of repeated runs on the same padded batch, both with the same number of threads (intra- and inter-op).
 * TensorFlow runs the original graph with its variables as constants (the values the checkpoint holds), so no restore
 * happens inside the timing. Not a test (speed is never asserted); run it from the repository root with
 *
 * <pre>
 * mvn -B -o -q -pl verify -am test-compile -DskipTests
 * mvn -B -o -q -pl verify dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=/tmp/cp.txt
 * java -cp verify/target/test-classes:verify/target/classes:core/target/classes:fixtures/target/classes:\
 * reference/target/classes:runtime/target/classes:$(cat /tmp/cp.txt) \
 *     returnn.onnx.verify.controlflow.LoopSpeedBench [threads batch time units repeats]
 * </pre>
 *
 * (defaults: 1 thread, batch 8, time 100, 256 units, 30 repeats; sequence lengths from time down to time/2).
 */
public final class LoopSpeedBench {
  private LoopSpeedBench() {}

  public static void main(String[] args) throws Exception {
    int threads = arg(args, 0, 1);
    int batch = arg(args, 1, 8);
    int time = arg(args, 2, 100);
    int units = arg(args, 3, 256);
    int repeats = arg(args, 4, 30);
    Fixture f = LoopFixtures.vanillaLstm(VariableKind.TF1, false, 40, units);
    Path dir = Files.createTempDirectory("loop-bench");
    FixtureWriter.Written w = f.write(dir, GraphFormat.PB);
    Path onnx = dir.resolve("vanillalstm.onnx");
    Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs())).write(onnx);
    int[] lengths = new int[batch];
    for (int b = 0; b < batch; b++) lengths[b] = time - b * time / (2 * batch);
    Map<String, Tensor> feeds = f.randomFeeds(1, lengths);

    long[] ortNs;
    try (OnnxSession s = OnnxSession.open(onnx, new OnnxSession.Options(threads, true))) {
      Map<String, Tensor> in = new LinkedHashMap<>();
      feeds.forEach((k, v) -> in.put(TensorRef.parse(k).onnxName(), v));
      ortNs = time(repeats, () -> s.run(in));
    }
    long[] tfNs;
    ConfigProto config = ConfigProto.newBuilder().setIntraOpParallelismThreads(threads)
        .setInterOpParallelismThreads(threads).build();
    try (Graph g = new Graph()) {
      g.importGraphDef(withVariablesAsConstants(f));
      try (Session s = new Session(g, config)) {
        tfNs = time(repeats, () -> {
          List<org.tensorflow.Tensor> in = new ArrayList<>();
          Session.Runner r = s.runner();
          for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
            org.tensorflow.Tensor t = TfTensors.toTf(e.getValue());
            in.add(t);
            r.feed(e.getKey(), t);
          }
          for (String o : f.outputs()) r.fetch(o);
          try (Result res = r.run()) {
            in.forEach(org.tensorflow.Tensor::close);
          }
        });
      }
    }
    long ort = median(ortNs);
    long tf = median(tfNs);
    System.out.printf("vanillalstm (TF1 while loop -> ONNX Loop), batch %d, time %d, %d features, %d units, %d thread(s), "
        + "%d runs:%n  TensorFlow   median %.2f ms%n  ONNX Runtime median %.2f ms%n  ratio TF/ORT %.2fx%n",
        batch, time, 40, units, threads, repeats, tf / 1e6, ort / 1e6, (double) tf / ort);
  }

  /** The fixture's graph with each variable replaced by a Const of its checkpoint value (same name), initializers dropped. */
  static GraphDef withVariablesAsConstants(Fixture f) {
    GraphDef.Builder b = f.graph().toBuilder().clearNode();
    for (NodeDef n : f.graph().getNodeList()) {
      if (n.getOp().equals("Assign")) continue;
      Tensor value = f.checkpoint().get(n.getName());
      b.addNode(value != null && n.getOp().equals("VariableV2") ? TfProtos.constNode(n.getName(), value) : n);
    }
    return b.build();
  }

  private static long[] time(int repeats, Runnable r) {
    for (int i = 0; i < 3; i++) r.run();
    long[] ns = new long[repeats];
    for (int i = 0; i < repeats; i++) {
      long t0 = System.nanoTime();
      r.run();
      ns[i] = System.nanoTime() - t0;
    }
    return ns;
  }

  private static long median(long[] v) {
    long[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  private static int arg(String[] args, int i, int dflt) {
    return args.length > i ? Integer.parseInt(args[i]) : dflt;
  }
}
