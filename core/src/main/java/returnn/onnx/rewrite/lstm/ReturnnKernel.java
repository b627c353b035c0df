package returnn.onnx.rewrite.lstm;

/**
 * RETURNN's LSTM kernels (returnn/native_op.py) and where their inputs and outputs are. All use the gate blocks
 * cell-in, input, forget, output; -1 means the kernel has no such input or output.
 *
 * <ul>
 *   <li>{@code NativeLstm2(x, W_re, y0, c0, i, start, step) → (y, c, h, d)}: x already projected; masked frames carry
 *       c and the previous output.
 *   <li>{@code LstmGenericBase(Z, V_h, c, i) → (Y, H, d)}: forward only, no initial h; the recurrent input is the
 *       previous (masked) output.
 *   <li>{@code LstmLowMem(X, W, b, y0, c0, i, start, step) → (Y, C, d)}: projects inside with W = [W_x; W_h]; the
 *       recurrent input is the previous (masked) output.
 * </ul>
 */
enum ReturnnKernel {
  NATIVE_LSTM2("NativeLstm2", 7, 0, 1, -1, 2, 3, 4, 5, 6, 1, 2, 3),
  LSTM_GENERIC_BASE("LstmGenericBase", 4, 0, 1, -1, -1, 2, 3, -1, -1, -1, 1, 2),
  LSTM_LOW_MEM("LstmLowMem", 8, 0, 1, 2, 3, 4, 5, 6, 7, 1, -1, 2);

  final String op;
  final int inputs;
  final int x;
  /** NativeLstm2 / LstmGenericBase: W_re [n,4n]; LstmLowMem: W [in+n,4n]. */
  final int weights;
  final int bias;
  final int y0;
  final int c0;
  final int mask;
  final int start;
  final int step;
  /** The all-frames cell state output, and the gate activations output. */
  final int cells;
  final int gates;
  final int finalCell;

  ReturnnKernel(String op, int inputs, int x, int weights, int bias, int y0, int c0, int mask, int start, int step,
      int cells, int gates, int finalCell) {
    this.op = op;
    this.inputs = inputs;
    this.x = x;
    this.weights = weights;
    this.bias = bias;
    this.y0 = y0;
    this.c0 = c0;
    this.mask = mask;
    this.start = start;
    this.step = step;
    this.cells = cells;
    this.gates = gates;
    this.finalCell = finalCell;
  }

  static ReturnnKernel of(String op) {
    for (ReturnnKernel k : values()) if (k.op.equals(op)) return k;
    return null;
  }

  /** Whether the recurrent input is the previous masked output (0 on a masked frame) rather than a carried one. */
  boolean feedsMaskedOutput() {
    return this != NATIVE_LSTM2;
  }
}
