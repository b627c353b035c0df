package returnn.onnx.verify.controlflow;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
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
 * wall time of interleaved runs on the same padded batch, both with the same number of threads (intra- and inter-op).
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
    Converter.Result converted = Converter.convert(ConvertOptions.of(w.graph(), w.checkpointPrefix(), f.outputs()));
    converted.write(onnx);
    int[] lengths = new int[batch];
    for (int b = 0; b < batch; b++) lengths[b] = time - b * time / (2 * batch);
    Map<String, Tensor> feeds = f.randomFeeds(1, lengths);

    Map<String, Tensor> ortFeeds = new LinkedHashMap<>();
    feeds.forEach((k, v) -> ortFeeds.put(TensorRef.parse(k).onnxName(), v));
    ConfigProto config = ConfigProto.newBuilder().setIntraOpParallelismThreads(threads)
        .setInterOpParallelismThreads(threads).build();
    long[] ortNs = new long[repeats];
    long[] tfNs = new long[repeats];
    double[] ratios = new double[repeats];
    try (OnnxSession ort = OnnxSession.open(onnx, new OnnxSession.Options(threads, true));
        Graph g = new Graph()) {
      g.importGraphDef(withVariablesAsConstants(f));
      try (Session tf = new Session(g, config)) {
        Runnable runOrt = () -> ort.run(ortFeeds);
        Runnable runTf = () -> runTf(tf, feeds, f.outputs());
        for (int i = 0; i < 3; i++) {
          runOrt.run();
          runTf.run();
        }
        // Interleaved rounds, so load from other processes hits both alike; the ratio is the median of per-round ratios.
        for (int i = 0; i < repeats; i++) {
          ortNs[i] = nanos(runOrt);
          tfNs[i] = nanos(runTf);
          ratios[i] = (double) tfNs[i] / ortNs[i];
        }
      }
    }
    Arrays.sort(ratios);
    System.out.printf("vanillalstm (TF1 while loop; converted model: %d Loop, %d LSTM), batch %d, time %d, %d features, "
        + "%d units, %d thread(s), %d rounds:%n  TensorFlow   median %.2f ms%n  ONNX Runtime median %.2f ms%n  TF/ORT "
        + "median of per-round ratios %.2fx%n", converted.graph().count("Loop"), converted.graph().count("LSTM"), batch,
        time, 40, units, threads, repeats, median(tfNs) / 1e6, median(ortNs) / 1e6, ratios[repeats / 2]);
  }

  private static void runTf(Session s, Map<String, Tensor> feeds, List<String> fetches) {
    List<org.tensorflow.Tensor> in = new ArrayList<>();
    try {
      Session.Runner r = s.runner();
      for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
        org.tensorflow.Tensor t = TfTensors.toTf(e.getValue());
        in.add(t);
        r.feed(e.getKey(), t);
      }
      for (String o : fetches) r.fetch(o);
      r.run().close();
    } finally {
      in.forEach(org.tensorflow.Tensor::close);
    }
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

  private static long nanos(Runnable r) {
    long t0 = System.nanoTime();
    r.run();
    return System.nanoTime() - t0;
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
