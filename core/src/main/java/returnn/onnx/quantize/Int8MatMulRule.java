package returnn.onnx.quantize;

import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * {@code MatMul(A, W)} with a constant float weight W [K,N] → int8 W and A quantized at run time
 * ({@link QuantizedMatMul}). Covers RETURNN's linear layers (and the output softmax layer's projection), the LSTM input
 * projections of {@code --no-fuse} models, the recurrent MatMul inside their Loop bodies, and the fused QKV and output
 * projections around MultiHeadAttention. When the product's only consumer adds a constant [N] bias, the Add becomes the
 * quantized op's bias input; a constant scalar factor after that (a Conformer's half-step feed-forward output) goes into
 * the weight's scales and the bias.
 */
final class Int8MatMulRule extends NodeRule {
  private final QuantizeContext qc;

  Int8MatMulRule(QuantizeContext qc) {
    super("Quantize.MatMul", true);
    this.qc = qc;
  }

  @Override
  protected boolean visit(Graph root, Node n, RuleContext ctx) {
    if (!n.isOnnx("MatMul")) return false;
    Value w = QuantizeContext.floatConstant(n.input(1), 2);
    if (w == null) {
      qc.report.kept(n.name(), n.op(), "no constant float [K,N] weight");
      return false;
    }
    if (qc.excluded(n)) return false;
    rewrite(n, w);
    return true;
  }

  private void rewrite(Node n, Value w) {
    Graph g = n.graph();
    long[] s = w.constant().shape();
    int k = (int) s[0], cols = (int) s[1];
    QuantizeContext.Constants q = qc.constants(g, w, "matmul", s, qc.options.perChannel() ? new long[] {cols} : new long[0],
        () -> new Int8Matrix[] {Int8Matrix.quantize(QuantizeContext.floats(w), k, cols, qc.options.perChannel(), qc.options.qmax())});
    Node add = biasAdd(n.output(0), cols);
    Value bias = add == null ? null : bias(add);
    Node mul = scaleMul(add != null ? add.output(0) : n.output(0));
    QuantizeContext.Constants scaled = q;
    if (mul != null) {
      // y·c = A·(W·c) + b·c: the constant factor goes into the weight's scales and the bias.
      float c = (float) mul.input(scaleOperand(mul)).constant().getDouble(0);
      scaled = new QuantizeContext.Constants(q.values(), times(g, q.scales(), c), q.zeroPoints(), q.byteSize());
      if (bias != null) bias = times(g, bias, c);
    }
    Value y = QuantizedMatMul.emit(qc, g, n, n.input(0), scaled, bias);
    QuantizeContext.replace(g, n.output(0), y);
    if (add != null) {
      // The bias is now added by the quantized op; the Add's consumers read what it added the bias to.
      Value biased = add.output(0), unbiased = otherInput(add, bias(add));
      QuantizeContext.replace(g, biased, unbiased);
      g.removeNode(add);
    }
    if (mul != null) {
      QuantizeContext.replace(g, mul.output(0), mul.input(1 - scaleOperand(mul)));
      g.removeNode(mul);
    }
    g.removeNode(n);
    String to = QuantizedMatMul.opName(qc.options) + (add != null ? " (+bias)" : "") + (mul != null ? " (+scale)" : "");
    qc.report.quantized(n.name(), "MatMul", to, QuantizedMatMul.shape(s), w.constant().byteSize(), q.byteSize());
  }

  /**
   * The Mul by a constant float scalar that is the only consumer of {@code v}, or null: a Conformer's feed-forward
   * modules scale their output by 1/2 before the residual Add ({@code half_step}), a kernel call over the whole
   * activation that the quantized op's output scale does for free.
   */
  private static Node scaleMul(Value v) {
    Node next = onlyConsumer(v);
    if (next == null || !next.isOnnx("Mul") || next.inputs().size() != 2 || next.input(0) == next.input(1)) return null;
    int c = scaleOperand(next);
    return c >= 0 && next.input(1 - c) == v ? next : null;
  }

  /**
   * The index of a Mul's constant positive float scalar operand, or -1. A [1] factor could raise the product's rank; a
   * negative or zero one would make a scale that is not a quantization scale (ONNX scales are positive).
   */
  private static int scaleOperand(Node mul) {
    for (int i = 0; i < 2; i++) {
      Value c = mul.input(i);
      Tensor t = c.constant();
      if (t != null && t.dtype() == DType.FLOAT && t.rank() == 0 && t.getDouble(0) > 0) return i;
    }
    return -1;
  }

  /** A new constant: float constant {@code v} times {@code c} (the original may be shared with other quantized ops). */
  private static Value times(Graph g, Value v, float c) {
    float[] f = QuantizeContext.floats(v);
    for (int i = 0; i < f.length; i++) f[i] *= c;
    return QuantizeContext.root(g).addConstant(v.name() + "_scaled", Tensor.ofFloats(v.constant().shape(), f));
  }

  /**
   * The Add of a constant float [N] bias that is the only consumer of {@code product}, or of a Reshape that is its only
   * consumer and keeps the last axis N (RETURNN's {@code dot}: Reshape to 2-D, MatMul, Reshape back, then the bias);
   * null if there is none. A row-major Reshape that keeps the last axis moves whole rows, so the bias can be added
   * before it.
   */
  static Node biasAdd(Value product, int cols) {
    Node next = onlyConsumer(product);
    if (next != null && next.isOnnx("Reshape") && next.input(0) == product && keepsLastAxis(next, cols)) {
      next = onlyConsumer(next.output(0));
    }
    if (next == null || !next.isOnnx("Add") || next.inputs().size() != 2 || next.input(0) == next.input(1)) return null;
    Value bias = bias(next);
    return bias != null && bias.constant().shape()[0] == cols ? next : null;
  }

  /** The constant float [N] operand of an Add, or null. */
  private static Value bias(Node add) {
    Value b = QuantizeContext.floatConstant(add.input(1), 1);
    return b != null ? b : QuantizeContext.floatConstant(add.input(0), 1);
  }

  private static Node onlyConsumer(Value v) {
    return v.isGraphOutput() || v.uses().size() != 1 ? null : v.uses().get(0).node();
  }

  /**
   * Whether a Reshape's output has last axis N: by its inferred shape, or by its target shape, a constant or a Concat
   * ending in a constant, possibly cast (how RETURNN's {@code dot} builds it from TF's int32 shapes), so that a model
   * read back from a file without shape information is rewritten the same way.
   */
  private static boolean keepsLastAxis(Node reshape, int cols) {
    Shape out = reshape.output(0).shape();
    if (out.hasRank() && out.rank() > 0 && out.dim(-1).isFixed()) return out.dim(-1).value() == cols;
    Value target = reshape.input(1);
    if (target.producer() != null && target.producer().isOnnx("Cast")) target = target.producer().input(0);
    Node concat = target.producer();
    if (!target.isConstant() && concat != null && concat.isOnnx("Concat")) target = concat.input(concat.inputs().size() - 1);
    if (target == null || !target.isConstant() || target.constant().size() == 0) return false;
    return target.constant().getLong(target.constant().size() - 1) == cols;
  }

  static Value otherInput(Node add, Value v) {
    return add.input(0) == v ? add.input(1) : add.input(0);
  }
}
