package returnn.onnx.rewrite.lstm;

import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * One LSTM step in a Loop body (tf dialect), recognised by its dataflow: {@code h' = σ(o)·tanh(c')},
 * {@code c' = σ(f + forget_bias)·c + σ(i)·tanh(j)}, the four gates being the outputs of one
 * {@code Split(axis 1, z, 4)} in any order, and z either RETURNN's {@code vanillalstm} pre-activation
 * {@code x_t + h·W_re} (input projected outside the loop) or TF {@code LSTMCell}'s
 * {@code concat([x_t, h], 1)·kernel + bias}. Commutative operands may come in either order. Or TF1's
 * {@code LSTMBlockCell} op (RETURNN's {@code lstmblock}), the same cell as one op, with peepholes and without a cell clip.
 *
 * @param kind what the step is: {@code vanillalstm}, {@code LSTMCell} or {@code LSTMBlockCell}
 * @param blocks ONNX gate order (i, o, f, c) → Split output index (gate block of the kernel)
 * @param xt the per-step input; {@code kernel} is [in+n, 4n] (LSTMCell) or the recurrent [n, 4n] ({@code bias} null)
 * @param peepholes ONNX P [1, 3n] or null
 */
record LoopLstmCell(String kind, int hidden, int[] blocks, float forgetBias, Value xt, Tensor kernel, Tensor bias, Tensor peepholes) {

  /** The cell computing {@code hNew} and {@code cNew} from {@code h} and {@code c}, or null. */
  static LoopLstmCell match(Value hNew, Value cNew, Value h, Value c) {
    Node block = tf(hNew, "LSTMBlockCell");
    if (block != null) return blockCell(block, hNew, cNew, h, c);
    Node hMul = tf(hNew, "Mul");
    if (hMul == null) return null;
    Value[] oTanh = pair(hMul, "Sigmoid", "Tanh");
    if (oTanh == null || !TfPatterns.same(oTanh[1], cNew)) return null;
    Node cAdd = tf(cNew, "AddV2", "Add");
    if (cAdd == null) return null;
    Node fc = tf(cAdd.input(0), "Mul");
    Node ij = tf(cAdd.input(1), "Mul");
    Value[] f = fc == null ? null : forgetTerm(fc, c);
    if (f == null) {
      Node t = fc;
      fc = ij;
      ij = t;
      f = fc == null ? null : forgetTerm(fc, c);
    }
    if (f == null || ij == null) return null;
    Value[] ic = pair(ij, "Sigmoid", "Tanh");
    if (ic == null) return null;
    float forgetBias = 0f;
    Value fGate = f[0];
    Node fAdd = tf(fGate, "AddV2", "Add");
    if (fAdd != null) {
      Double fb = TfPatterns.scalarFloat(fAdd.input(1));
      if (fb == null) return null;
      forgetBias = fb.floatValue();
      fGate = fAdd.input(0);
    }
    Value[] gates = {ic[0], oTanh[0], fGate, ic[1]};
    Node split = null;
    int[] blocks = new int[4];
    for (int k = 0; k < 4; k++) {
      Value s = TfPatterns.skipIdentities(gates[k]);
      Node p = s.producer();
      if (p == null || !p.is(Node.TF, "Split") || (split != null && p != split)) return null;
      split = p;
      blocks[k] = s.outputIndex();
    }
    if (split.intAttr("num_split", 0) != 4 || distinct(blocks) != 4) return null;
    Long axis = TfPatterns.scalarInt(split.input(0));
    if (axis == null || (axis != 1 && axis != -1)) return null;
    return preActivation(split.input(1), h, blocks, forgetBias);
  }

  /** {@code z = x_t + h·W_re} (vanillalstm) or {@code concat([x_t, h], 1)·kernel + bias} (LSTMCell). */
  private static LoopLstmCell preActivation(Value z, Value h, int[] blocks, float forgetBias) {
    Node add = tf(z, "AddV2", "Add", "BiasAdd");
    if (add == null) return null;
    for (int k = 0; k < 2; k++) {
      if (add.op().equals("BiasAdd") && k == 1) break;
      Node mm = matMul(add.input(k));
      if (mm == null) continue;
      Value other = add.input(1 - k);
      Tensor w = TfPatterns.constant(mm.input(1));
      if (w == null || w.rank() != 2 || w.shape()[1] % 4 != 0) return null;
      int n = (int) (w.shape()[1] / 4);
      if (TfPatterns.same(mm.input(0), h)) {
        return w.shape()[0] == n ? new LoopLstmCell("vanillalstm", n, blocks, forgetBias, other, w, null, null) : null;
      }
      Node concat = tf(mm.input(0), "ConcatV2");
      Tensor b = TfPatterns.constant(other);
      if (concat == null || concat.inputs().size() != 3 || !TfPatterns.same(concat.input(1), h) || b == null
          || b.size() != 4L * n || w.shape()[0] <= n) {
        return null;
      }
      Long axis = TfPatterns.scalarInt(concat.input(2));
      if (axis == null || (axis != 1 && axis != -1)) return null;
      return new LoopLstmCell("LSTMCell", n, blocks, forgetBias, concat.input(0), w, b, null);
    }
    return null;
  }

  /**
   * {@code LSTMBlockCell(x, cs_prev = c, h_prev = h, w, wci, wcf, wco, b)} with outputs h (6) and cs (1) as the new
   * state: kernel [in+n, 4n] over [x, h] in gate order i, c, f, o; {@code forget_bias} an attr; the peephole vectors
   * (constants, zeros without {@code use_peephole}) become P. A cell clip ({@link #cellClip}) is not this cell.
   */
  private static LoopLstmCell blockCell(Node cell, Value hNew, Value cNew, Value h, Value c) {
    Value hv = TfPatterns.skipIdentities(hNew);
    Value cv = TfPatterns.skipIdentities(cNew);
    if (hv.outputIndex() != 6 || cv.producer() != cell || cv.outputIndex() != 1 || cellClip(cell) > 0
        || !TfPatterns.same(cell.input(1), c) || !TfPatterns.same(cell.input(2), h)) {
      return null;
    }
    Tensor w = TfPatterns.constant(cell.input(3));
    Tensor b = TfPatterns.constant(cell.input(7));
    if (w == null || b == null || w.rank() != 2 || w.shape()[1] % 4 != 0) return null;
    int n = (int) (w.shape()[1] / 4);
    if (w.shape()[0] <= n || b.size() != 4L * n) return null;
    Tensor p = null;
    if (TfPatterns.boolAttr(cell, "use_peephole", false)) {
      Tensor[] d = new Tensor[3];
      for (int k = 0; k < 3; k++) {
        d[k] = TfPatterns.constant(cell.input(4 + k));
        if (d[k] == null || d[k].size() != n) return null;
      }
      p = LstmWeights.peepholes(d[0], d[1], d[2], n);
    }
    return new LoopLstmCell("LSTMBlockCell", n, LstmWeights.TF_ICFO, TfPatterns.floatAttr(cell, "forget_bias", 1f), cell.input(0), w, b, p);
  }

  /** An {@code LSTMBlockCell}'s {@code cell_clip} (the OpDef default 3.0 when absent; the contrib cell passes -1). */
  static float cellClip(Node cell) {
    return TfPatterns.floatAttr(cell, "cell_clip", 3f);
  }

  /** {@code σ(f)·c} in either order: {@code [f]}, or null. */
  private static Value[] forgetTerm(Node mul, Value c) {
    for (int k = 0; k < 2; k++) {
      Node sig = tf(mul.input(k), "Sigmoid");
      if (sig != null && TfPatterns.same(mul.input(1 - k), c)) return new Value[] {sig.input(0)};
    }
    return null;
  }

  /** The arguments of {@code a(x)·b(y)} in either order as {@code [x, y]}, or null. */
  private static Value[] pair(Node mul, String a, String b) {
    for (int k = 0; k < 2; k++) {
      Node l = tf(mul.input(k), a);
      Node r = tf(mul.input(1 - k), b);
      if (l != null && r != null) return new Value[] {l.input(0), r.input(0)};
    }
    return null;
  }

  private static Node matMul(Value v) {
    Node mm = tf(v, "MatMul");
    if (mm == null || TfPatterns.boolAttr(mm, "transpose_a", false) || TfPatterns.boolAttr(mm, "transpose_b", false)) {
      return null;
    }
    return mm;
  }

  private static Node tf(Value v, String... ops) {
    return v == null ? null : TfPatterns.producer(v, ops);
  }

  private static int distinct(int[] a) {
    return (int) java.util.Arrays.stream(a).distinct().count();
  }
}
