package returnn.onnx.bench;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.lstm.LstmFixtures;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.tf.TensorRef;

/**
 * The NativeLstm2 LM fixture ({@link LstmFixtures#languageModel}) written by hand in ONNX, as someone fluent in ONNX
 * would: Gather (embedding) → Transpose → one LSTM per layer (RETURNN's j,i,f,o gate blocks reordered to ONNX's
 * i,o,f,c) → Squeeze → Transpose → MatMul + Add → Softmax. The bench's yardstick for the converted model; its
 * {@link #step} variant (one token, states in and out) samples evaluation text from the model.
 */
final class HandWrittenLm {
  /** ONNX gate g (i, o, f, c) is RETURNN block ONNX_FROM_RETURNN[g] (blocks j, i, f, o). */
  private static final int[] ONNX_FROM_RETURNN = {1, 3, 2, 0};
  static final int OPSET = 17;

  private HandWrittenLm() {}

  /** ids [B,T] and lengths [B], named as the fixture's placeholders → the fixture's output name [B,T,V]. */
  static Graph full(Fixture f, LstmFixtures.Sizes s) {
    Graph g = new Graph("lstm_lm_hand_written");
    Value ids = g.addInput(onnxName(f.inputs().get(0).tensorName()), DType.INT32, Shape.of(Dim.sym("batch"), Dim.sym("time")));
    Value lengths = g.addInput(onnxName(f.inputs().get(1).tensorName()), DType.INT32, Shape.of(Dim.sym("batch")));
    OnnxBuilder b = new OnnxBuilder(g, OPSET, "hand", null);
    Value x = b.transpose(b.gather(b.constant(f.checkpoint().get("input/W")), ids, 0), 1, 0, 2);
    for (int k = 0; k < s.layers(); k++) x = b.squeeze(lstm(g, b, f, s.hidden(), k, x, lengths, null, null).output(0), 1);
    Value y = output(b, f, b.transpose(x, 1, 0, 2));
    y.setName(onnxName(LstmFixtures.OUTPUT));
    g.addOutput(y);
    return g;
  }

  /**
   * One step for sampling: {@code ids} [B,1] and per layer k {@code hK}, {@code cK} [1,B,n] → {@code probs} [B,1,V]
   * and {@code hK_next}, {@code cK_next}.
   */
  static Graph step(Fixture f, LstmFixtures.Sizes s) {
    Graph g = new Graph("lstm_lm_step");
    Value ids = g.addInput("ids", DType.INT32, Shape.of(Dim.sym("batch"), Dim.of(1)));
    List<Value[]> states = new ArrayList<>();
    for (int k = 0; k < s.layers(); k++) {
      Shape st = Shape.of(Dim.of(1), Dim.sym("batch"), Dim.of(s.hidden()));
      states.add(new Value[] {g.addInput("h" + k, DType.FLOAT, st), g.addInput("c" + k, DType.FLOAT, st)});
    }
    OnnxBuilder b = new OnnxBuilder(g, OPSET, "step", null);
    Value x = b.transpose(b.gather(b.constant(f.checkpoint().get("input/W")), ids, 0), 1, 0, 2);
    List<Value> next = new ArrayList<>();
    for (int k = 0; k < s.layers(); k++) {
      Node lstm = lstm(g, b, f, s.hidden(), k, x, null, states.get(k)[0], states.get(k)[1]);
      x = b.squeeze(lstm.output(0), 1);
      for (int i = 1; i <= 2; i++) {
        Value v = lstm.output(i);
        v.setShape(Shape.of(Dim.of(1), Dim.sym("batch"), Dim.of(s.hidden())));
        v.setName((i == 1 ? "h" : "c") + k + "_next");
        next.add(v);
      }
    }
    Value probs = output(b, f, b.transpose(x, 1, 0, 2));
    probs.setName("probs");
    g.addOutput(probs);
    for (Value v : next) g.addOutput(v);
    return g;
  }

  /**
   * Layer {@code lstmK} of a NativeLstm2 fixture as one ONNX LSTM with n units: W from {@code lstmK/rec/W} and
   * {@code b}, R from {@code W_re}, RETURNN's j,i,f,o blocks reordered to ONNX i,o,f,c.
   */
  static Node lstm(Graph g, OnnxBuilder b, Fixture f, int n, int k, Value x, Value lengths, Value h0, Value c0) {
    String l = "lstm" + k + "/rec/";
    Map<String, Tensor> ckpt = f.checkpoint();
    float[] bias = ckpt.get(l + "b").toFloats();
    float[] bb = new float[8 * n];
    for (int gate = 0; gate < 4; gate++) System.arraycopy(bias, ONNX_FROM_RETURNN[gate] * n, bb, gate * n, n);
    List<Value> in = new ArrayList<>(Arrays.asList(x, b.constant(gates(ckpt.get(l + "W"), n)), b.constant(gates(ckpt.get(l + "W_re"), n)),
        b.constant(Tensor.ofFloats(new long[] {1, 8L * n}, bb)), lengths, h0, c0));
    while (in.get(in.size() - 1) == null) in.remove(in.size() - 1);
    Node lstm = g.addNode(Node.ONNX, "LSTM", "lstm" + k, null, in, 3);
    lstm.set("hidden_size", new Attr.Int(n));
    for (Value v : lstm.outputs()) v.setDtype(DType.FLOAT);
    return lstm;
  }

  /** Softmax(x · output/W + output/b). */
  private static Value output(OnnxBuilder b, Fixture f, Value x) {
    Value logits = b.op("Add", b.op("MatMul", x, b.constant(f.checkpoint().get("output/W"))), b.constant(f.checkpoint().get("output/b")));
    return b.op("Softmax", List.of(logits), Map.of("axis", new Attr.Int(-1)));
  }

  /** [rows, 4n] RETURNN matrix → [1, 4n, rows] ONNX matrix. */
  private static Tensor gates(Tensor m, int n) {
    int rows = (int) m.shape()[0];
    float[] src = m.toFloats();
    ByteBuffer out = Tensor.alloc(4L * 4 * n * rows);
    for (int gate = 0; gate < 4; gate++) {
      for (int c = 0; c < n; c++) {
        for (int k = 0; k < rows; k++) out.putFloat(4 * ((gate * n + c) * rows + k), src[k * 4 * n + ONNX_FROM_RETURNN[gate] * n + c]);
      }
    }
    return Tensor.of(DType.FLOAT, new long[] {1, 4L * n, rows}, out);
  }

  static String onnxName(String tfName) {
    return TensorRef.parse(tfName).onnxName();
  }
}
