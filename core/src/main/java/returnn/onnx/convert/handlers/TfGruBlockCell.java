package returnn.onnx.convert.handlers;

import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/**
 * TF1 contrib {@code GRUBlockCell} (one GRU step; RETURNN's {@code gru} unit in TF 1.x graphs, inside a while loop),
 * following GRUBlockCellFprop in tensorflow/core/kernels/rnn/gru_ops.cc: inputs {@code (x, h_prev, w_ru [in+n, 2n],
 * w_c [in+n, n], b_ru [2n], b_c [n])}, outputs {@code (r, u, c, h)} with
 * {@code [r, u] = σ([x, h_prev]·w_ru + b_ru)}, {@code c = tanh([x, r∘h_prev]·w_c + b_c)},
 * {@code h = u∘h_prev + (1 − u)∘c} — TF's {@code GRUCell} as one op. A GRU loop of these fuses to ONNX {@code GRU}
 * ({@code rewrite.gru}); this is the step where it does not.
 */
final class TfGruBlockCell {
  private TfGruBlockCell() {}

  static void convert(ConversionContext ctx) {
    if (ctx.inputCount() != 6) throw ctx.error("needs 6 inputs (x, h_prev, w_ru, w_c, b_ru, b_c), got " + ctx.inputCount());
    OnnxBuilder b = ctx.onnx();
    Value x = ctx.input(0);
    Value h = ctx.input(1);
    Value ru = b.op("Sigmoid", b.op("Add", b.op("MatMul", b.concat(List.of(x, h), 1), ctx.input(2)), ctx.input(4)));
    List<Value> g = b.splitEqual(ru, 1, 2);
    Value r = g.get(0);
    Value u = g.get(1);
    Value c = b.op("Tanh", b.op("Add", b.op("MatMul", b.concat(List.of(x, b.op("Mul", r, h)), 1), ctx.input(3)),
        ctx.input(5)));
    // h = u∘h_prev + (1 − u)∘c, written as c + u∘(h_prev − c) would round differently from TF: keep TF's form.
    Value one = b.scalar(DType.FLOAT, 1);
    Value hNew = b.op("Add", b.op("Mul", u, h), b.op("Mul", b.op("Sub", one, u), c));
    ctx.setOutput(0, r);
    ctx.setOutput(1, u);
    ctx.setOutput(2, c);
    ctx.setOutput(3, hNew);
  }
}
