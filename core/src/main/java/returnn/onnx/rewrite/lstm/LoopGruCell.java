package returnn.onnx.rewrite.lstm;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/**
 * One GRU step in a Loop body (tf dialect): TF's {@code GRUCell} ({@code rnn_cell_impl.GRUCell.call}) written out,
 * {@code [r, u] = split(σ(concat([x, h], 1)·Kg + bg), 2)}, {@code c = tanh(concat([x, r·h], 1)·Kc + bc)},
 * {@code h' = u·h + (1 − u)·c}, commutative operands in either order; or the same cell as TF1's {@code GRUBlockCell}
 * op {@code (x, h_prev, w_ru = Kg, w_c = Kc, b_ru = bg, b_c = bc)} → {@code (r, u, c, h)}.
 *
 * <p>That is ONNX {@code GRU} with {@code linear_before_reset = 0} (the reset gate multiplies h before the recurrent
 * matmul): ONNX's z is TF's u ({@code H = (1 − z)·h~ + z·H}), its gate order is z, r, h where TF's kernels hold r, u
 * and the candidate, and TF's biases go into ONNX's Wb with Rb zero.
 *
 * @param kind {@code GRUCell} or {@code GRUBlockCell}
 * @param gateKernel Kg [in+n, 2n] (columns r, u), {@code candidateKernel} Kc [in+n, n], biases [2n], [n]
 */
record LoopGruCell(String kind, int hidden, Value xt, Tensor gateKernel, Tensor gateBias, Tensor candidateKernel,
    Tensor candidateBias) {

  /** The cell computing {@code hNew} from the carried {@code h}, or null. */
  static LoopGruCell match(Value hNew, Value h) {
    Node block = TfPatterns.producer(hNew, "GRUBlockCell");
    if (block != null) {
      if (TfPatterns.skipIdentities(hNew).outputIndex() != 3 || !TfPatterns.same(block.input(1), h)) return null;
      return of("GRUBlockCell", block.input(0), TfPatterns.constant(block.input(2)), TfPatterns.constant(block.input(4)),
          TfPatterns.constant(block.input(3)), TfPatterns.constant(block.input(5)));
    }
    Node add = TfPatterns.producer(hNew, "AddV2", "Add");
    if (add == null) return null;
    for (int k = 0; k < 2; k++) {
      Node keep = TfPatterns.producer(add.input(k), "Mul");
      Node mix = TfPatterns.producer(add.input(1 - k), "Mul");
      Value u = keep == null ? null : other(keep, h);
      if (u == null || mix == null) continue;
      for (int j = 0; j < 2; j++) {
        Node sub = TfPatterns.producer(mix.input(j), "Sub");
        Double one = sub == null ? null : TfPatterns.scalarFloat(sub.input(0));
        if (one == null || one != 1 || !TfPatterns.same(sub.input(1), u)) continue;
        LoopGruCell c = cell(u, mix.input(1 - j), h);
        if (c != null) return c;
      }
    }
    return null;
  }

  /** {@code u} = Split output 1 and the candidate {@code tanh(concat([x, r·h])·Kc + bc)} with r = Split output 0. */
  private static LoopGruCell cell(Value u, Value candidate, Value h) {
    Value us = TfPatterns.skipIdentities(u);
    Node split = TfPatterns.producer(us, "Split");
    if (split == null || us.outputIndex() != 1 || split.intAttr("num_split", 0) != 2 || !axisOne(split.input(0))) return null;
    Node sig = TfPatterns.producer(split.input(1), "Sigmoid");
    Affine gates = sig == null ? null : affine(sig.input(0));
    Node tanh = TfPatterns.producer(candidate, "Tanh");
    Affine cand = tanh == null ? null : affine(tanh.input(0));
    if (gates == null || cand == null || !TfPatterns.same(gates.concat().input(1), h)) return null;
    Node rh = TfPatterns.producer(cand.concat().input(1), "Mul");
    if (rh == null || !TfPatterns.same(gates.concat().input(0), cand.concat().input(0))) return null;
    Value r = other(rh, h);
    Value rs = r == null ? null : TfPatterns.skipIdentities(r);
    if (rs == null || rs.producer() != split || rs.outputIndex() != 0) return null;
    return of("GRUCell", gates.concat().input(0), gates.kernel(), gates.bias(), cand.kernel(), cand.bias());
  }

  private record Affine(Node concat, Tensor kernel, Tensor bias) {}

  /** {@code concat([a, b], 1)·K + bias} (BiasAdd or Add), K and bias constants. */
  private static Affine affine(Value v) {
    Node add = TfPatterns.producer(v, "BiasAdd", "AddV2", "Add");
    if (add == null) return null;
    Node mm = TfPatterns.producer(add.input(0), "MatMul");
    Tensor b = TfPatterns.constant(add.input(1));
    if (mm == null || b == null || TfPatterns.boolAttr(mm, "transpose_a", false) || TfPatterns.boolAttr(mm, "transpose_b", false)) {
      return null;
    }
    Node concat = TfPatterns.producer(mm.input(0), "ConcatV2");
    Tensor k = TfPatterns.constant(mm.input(1));
    if (concat == null || concat.inputs().size() != 3 || !axisOne(concat.input(2)) || k == null) return null;
    return new Affine(concat, k, b);
  }

  private static boolean axisOne(Value v) {
    Long a = TfPatterns.scalarInt(v);
    return a != null && (a == 1 || a == -1);
  }

  /** The operand of {@code mul} that is not {@code h}, or null if neither is h. */
  private static Value other(Node mul, Value h) {
    for (int k = 0; k < 2; k++) if (TfPatterns.same(mul.input(k), h)) return mul.input(1 - k);
    return null;
  }

  private static LoopGruCell of(String kind, Value xt, Tensor kg, Tensor bg, Tensor kc, Tensor bc) {
    if (kg == null || bg == null || kc == null || bc == null || kg.rank() != 2 || kc.rank() != 2) return null;
    if (kg.dtype() != DType.FLOAT || kc.dtype() != DType.FLOAT || bg.dtype() != DType.FLOAT || bc.dtype() != DType.FLOAT) {
      return null;
    }
    long n = kc.shape()[1];
    if (kg.shape()[1] != 2 * n || kg.shape()[0] != kc.shape()[0] || kg.shape()[0] <= n || bg.size() != 2 * n || bc.size() != n) {
      return null;
    }
    return new LoopGruCell(kind, (int) n, xt, kg, bg, kc, bc);
  }

  int inputs() {
    return (int) gateKernel.shape()[0] - hidden;
  }

  /** ONNX W [1, 3n, in] (rows of the kernels for x). */
  Tensor w() {
    return matrix(0, inputs());
  }

  /** ONNX R [1, 3n, n] (rows of the kernels for h). */
  Tensor r() {
    return matrix(inputs(), hidden);
  }

  /** ONNX B [1, 6n]: Wb = [bu, br, bc], Rb = 0. */
  Tensor b() {
    int n = hidden;
    return Tensor.lazy(DType.FLOAT, new long[] {1, 6L * n}, () -> {
      ByteBuffer out = Tensor.alloc(4L * 6 * n);
      FloatBuffer dst = out.asFloatBuffer();
      FloatBuffer g = gateBias.data().asFloatBuffer();
      FloatBuffer c = candidateBias.data().asFloatBuffer();
      for (int k = 0; k < n; k++) {
        dst.put(k, g.get(n + k));
        dst.put(n + k, g.get(k));
        dst.put(2 * n + k, c.get(k));
      }
      return out;
    });
  }

  /** Rows {@code [rowStart, rowStart + rows)} of the kernels, transposed to [1, 3n, rows] in ONNX order z (u), r, h. */
  private Tensor matrix(int rowStart, int rows) {
    int n = hidden;
    return Tensor.lazy(DType.FLOAT, new long[] {1, 3L * n, rows}, () -> {
      ByteBuffer out = Tensor.alloc(4L * 3 * n * rows);
      FloatBuffer dst = out.asFloatBuffer();
      FloatBuffer g = gateKernel.data().asFloatBuffer();
      FloatBuffer c = candidateKernel.data().asFloatBuffer();
      for (int gate = 0; gate < 3; gate++) {
        FloatBuffer src = gate < 2 ? g : c;
        int cols = gate < 2 ? 2 * n : n;
        int off = gate == 0 ? n : 0;
        for (int j = 0; j < n; j++) {
          int base = (gate * n + j) * rows;
          for (int k = 0; k < rows; k++) dst.put(base + k, src.get((rowStart + k) * cols + off + j));
        }
      }
      return out;
    });
  }
}
