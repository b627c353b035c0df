package returnn.onnx.runtime;

import java.util.List;
import java.util.Map;
import java.util.Random;
import returnn.onnx.ConversionReport;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.io.OnnxWriter;
import returnn.onnx.rewrite.state.StateInterface;
import returnn.onnx.rewrite.state.StateMapping;

/**
 * A one-layer model as the LSTM fusion leaves it: time-major x [T,B,I] and lengths [B] → ONNX {@code LSTM} (zero initial
 * state, named after RETURNN's {@code lstm0/rec/NativeLstm2}) → y [T,B,H]; with {@code --state}'s pass applied. Also a
 * plain Java LSTM in ONNX's formulation (gates i, o, f, c) as the reference.
 */
final class HandBuiltLstm {
  final int in;
  final int hidden;
  final Tensor w;
  final Tensor r;
  final Tensor b;

  HandBuiltLstm(int in, int hidden, long seed) {
    this.in = in;
    this.hidden = hidden;
    Random rnd = new Random(seed);
    this.w = random(rnd, 1, 4L * hidden, in);
    this.r = random(rnd, 1, 4L * hidden, hidden);
    this.b = random(rnd, 1, 8L * hidden);
  }

  private static Tensor random(Random rnd, long... shape) {
    double[] v = new double[(int) Tensor.count(shape)];
    for (int i = 0; i < v.length; i++) v[i] = 0.5 * rnd.nextGaussian();
    return Tensor.fromDoubles(DType.FLOAT, shape, v);
  }

  /** The model bytes; with {@code state}, after the state pass with its mapping in the metadata. */
  byte[] model(boolean state) {
    return model(state, false);
  }

  /** With {@code state}: the state inputs are plain inputs, or with {@code defaults} have initializer defaults. */
  byte[] model(boolean state, boolean defaults) {
    Graph g = new Graph("lstm");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(Dim.sym("time"), Dim.sym("batch"), Dim.of(in)));
    Value lens = g.addInput("x_lens", DType.INT32, Shape.of(Dim.sym("batch")));
    Node lstm = g.addNode(Node.ONNX, "LSTM", "lstm0/rec/NativeLstm2/LSTM", "lstm0/rec/NativeLstm2",
        List.of(x, g.addConstant("W", w), g.addConstant("R", r), g.addConstant("B", b), lens), 3);
    lstm.set("hidden_size", new Attr.Int(hidden));
    for (Value o : lstm.outputs()) o.setDtype(DType.FLOAT);
    lstm.output(0).setShape(Shape.of(Dim.sym("time"), Dim.of(1), Dim.sym("batch"), Dim.of(hidden)));
    Node y = g.addNode(Node.ONNX, "Squeeze", "y", null, List.of(lstm.output(0), g.addConstant("axes", Tensor.vectorLongs(1))), 1);
    y.output(0).setDtype(DType.FLOAT);
    y.output(0).setShape(Shape.of(Dim.sym("time"), Dim.sym("batch"), Dim.of(hidden)));
    g.addOutput(y.output(0));
    Map<String, String> meta = new java.util.TreeMap<>();
    if (state) {
      StateMapping m = StateInterface.expose(g, 17, new ConversionReport(), defaults);
      meta.put(StateMapping.METADATA_KEY, m.toJson());
      meta.putAll(m.rasrMetadata());
    }
    g.removeDeadNodes();
    return OnnxWriter.toModel(g, 17, meta).toByteArray();
  }

  /** y [T,B,H] for x [T,B,I] from the given states [B,H] (zeros if null); frames past a length are 0. */
  float[] reference(float[] x, int time, int batch, int[] lengths, float[] h0, float[] c0) {
    float[] y = new float[time * batch * hidden];
    float[] wv = w.toFloats(), rv = r.toFloats(), bv = b.toFloats();
    for (int bi = 0; bi < batch; bi++) {
      double[] h = new double[hidden], c = new double[hidden];
      for (int j = 0; j < hidden; j++) {
        h[j] = h0 == null ? 0 : h0[bi * hidden + j];
        c[j] = c0 == null ? 0 : c0[bi * hidden + j];
      }
      for (int t = 0; t < lengths[bi]; t++) {
        double[] z = new double[4 * hidden];
        for (int gate = 0; gate < 4 * hidden; gate++) {
          double s = bv[gate] + bv[4 * hidden + gate];
          for (int k = 0; k < in; k++) s += wv[gate * in + k] * x[(t * batch + bi) * in + k];
          for (int k = 0; k < hidden; k++) s += rv[gate * hidden + k] * h[k];
          z[gate] = s;
        }
        for (int j = 0; j < hidden; j++) {
          double i = sigmoid(z[j]), o = sigmoid(z[hidden + j]), f = sigmoid(z[2 * hidden + j]), g = Math.tanh(z[3 * hidden + j]);
          c[j] = f * c[j] + i * g;
          h[j] = o * Math.tanh(c[j]);
          y[(t * batch + bi) * hidden + j] = (float) h[j];
        }
      }
    }
    return y;
  }

  private static double sigmoid(double v) {
    return 1 / (1 + Math.exp(-v));
  }
}
