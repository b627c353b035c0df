package returnn.onnx.convert.handlers;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/**
 * TF's {@code BlockLSTM} / {@code BlockLSTMV2} (RETURNN's {@code lstmblockfused} unit in TF1.15-era graphs) as an
 * exact ONNX Loop, following LSTMBlockCellFprop in tensorflow/core/kernels/rnn/lstm_ops.cc per frame:
 * {@code icfo = [x, h]·w + b}; i = σ(i + cs·wci); ci = tanh(ci); f = σ(f + forget_bias + cs·wcf);
 * cs' = ci·i + cs·f, clipped to ±cell_clip when cell_clip > 0; co = tanh(cs'); o = σ(o + cs'·wco); h' = co·o.
 * Frames from {@code seq_len_max} on are zeros in every output. Gate blocks are i, c, f, o (V2: i, f, c, o); V2 has
 * no forget bias. This is what the LSTM fusion falls back to, e.g. with a cell clip. {@code LSTMBlockCell} is one
 * step of the same cell, converted in place (inside the Loop its while loop became).
 */
final class BlockLstmOps {
  private static final String[] OUTPUTS = {"i", "cs", "f", "o", "ci", "co", "h"};

  private BlockLstmOps() {}

  static void convert(ConversionContext ctx) {
    OnnxBuilder b = ctx.onnx();
    if (ctx.inputCount() != 9) {
      throw ctx.error("needs 9 inputs (seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b), got " + ctx.inputCount());
    }
    boolean v2 = ctx.op().equals("BlockLSTMV2");
    float forgetBias = v2 ? 0f : ctx.attrFloat("forget_bias", 1f);
    float clip = ctx.attrFloat("cell_clip", v2 ? 0f : 3f);
    boolean peephole = ctx.attrBool("use_peephole", false);
    Value x = ctx.input(1);
    Value w = ctx.input(4);
    Value bias = ctx.input(8);
    Value frameCount = ReturnnLoop.dim(b, x, 0);
    Value trips = b.op("Min", ReturnnLoop.int64(b, ctx.input(0)), frameCount);

    ReturnnLoop loop = new ReturnnLoop(b, ctx.name(), List.of(ctx.input(3), ctx.input(2)));
    OnnxBuilder in = loop.body();
    Value t = loop.frame(b.scalarLong(0), b.scalarLong(1));
    Value h = loop.state(0);
    Value cs = loop.state(1);
    Value[] perFrame = step(in, new Cell(in.gather(x, t, 0), cs, h, w, bias, ctx.input(5), ctx.input(6), ctx.input(7),
        v2, forgetBias, clip, peephole));
    Value csNew = perFrame[1];
    Value hNew = perFrame[6];
    List<Value> scans = new ArrayList<>();
    List<Integer> used = new ArrayList<>();
    for (int k = 0; k < OUTPUTS.length; k++) {
      if (ctx.outputUsed(k)) {
        scans.add(perFrame[k]);
        used.add(k);
      }
    }
    List<Value> out = loop.build(trips, List.of(hNew, csNew), scans);
    Shape known = outputShape(x, w);
    for (int k = 0; k < used.size(); k++) {
      // Frames at and after seq_len_max stay zero.
      Value o = ReturnnLoop.place(b, out.get(2 + k), null, frameCount, b.scalarLong(0), b.scalarLong(1), null, null);
      o.setShape(refine(o.shape(), known));
      ctx.setOutput(used.get(k), o);
    }
  }

  /** {@code have} with its unknown dims taken from {@code known} (the whole of {@code known} where the rank is lost). */
  private static Shape refine(Shape have, Shape known) {
    if (!have.hasRank() || have.rank() != known.rank()) return known;
    List<Dim> d = new ArrayList<>(have.dims());
    for (int i = 0; i < d.size(); i++) if (!d.get(i).isFixed() && !d.get(i).isSymbolic()) d.set(i, known.dim(i));
    return Shape.of(d);
  }

  /** TF's shape function: every output is [T, B, n] (x is [T, B, in], w is [in + n, 4n]), even where x's rank is not known. */
  private static Shape outputShape(Value x, Value w) {
    Shape xs = x.shape(), ws = w.shape();
    Dim t = xs.hasRank() && xs.rank() == 3 ? xs.dim(0) : Dim.UNKNOWN;
    Dim batch = xs.hasRank() && xs.rank() == 3 ? xs.dim(1) : Dim.UNKNOWN;
    Dim n = ws.hasRank() && ws.rank() == 2 && ws.dim(1).isFixed() ? Dim.of(ws.dim(1).value() / 4) : Dim.UNKNOWN;
    return Shape.of(t, batch, n);
  }

  /** {@code LSTMBlockCell}: one step of the same cell (TF1's {@code lstmblock} unit, inside a while loop body). */
  static void convertCell(ConversionContext ctx) {
    if (ctx.inputCount() != 8) {
      throw ctx.error("needs 8 inputs (x, cs_prev, h_prev, w, wci, wcf, wco, b), got " + ctx.inputCount());
    }
    Value[] out = step(ctx.onnx(), new Cell(ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(3), ctx.input(7),
        ctx.input(4), ctx.input(5), ctx.input(6), false, ctx.attrFloat("forget_bias", 1f), ctx.attrFloat("cell_clip", 3f),
        ctx.attrBool("use_peephole", false)));
    for (int k = 0; k < OUTPUTS.length; k++) ctx.setOutput(k, out[k]);
  }

  /** One step's operands: input {@code x} [B, in], previous {@code cs}, {@code h} [B, n], weights and attrs. */
  private record Cell(Value x, Value cs, Value h, Value w, Value bias, Value wci, Value wcf, Value wco, boolean v2,
      float forgetBias, float clip, boolean peephole) {}

  /** LSTMBlockCellFprop: the outputs i, cs, f, o, ci, co, h of one step. */
  private static Value[] step(OnnxBuilder in, Cell c) {
    Value icfo = in.op("Add", in.op("MatMul", in.concat(List.of(c.x(), c.h()), 1), c.w()), c.bias());
    List<Value> g = ReturnnLoop.gates(in, icfo);
    Value iPre = g.get(0);
    Value ciPre = g.get(c.v2() ? 2 : 1);
    Value fPre = g.get(c.v2() ? 1 : 2);
    Value oPre = g.get(3);
    if (c.peephole()) iPre = in.op("Add", iPre, in.op("Mul", c.cs(), c.wci()));
    Value i = in.op("Sigmoid", iPre);
    Value ci = in.op("Tanh", ciPre);
    if (c.forgetBias() != 0) fPre = in.op("Add", fPre, in.scalar(DType.FLOAT, c.forgetBias()));
    if (c.peephole()) fPre = in.op("Add", fPre, in.op("Mul", c.cs(), c.wcf()));
    Value f = in.op("Sigmoid", fPre);
    Value csNew = in.op("Add", in.op("Mul", ci, i), in.op("Mul", c.cs(), f));
    if (c.clip() > 0) csNew = in.op("Clip", csNew, in.scalar(DType.FLOAT, -c.clip()), in.scalar(DType.FLOAT, c.clip()));
    Value co = in.op("Tanh", csNew);
    if (c.peephole()) oPre = in.op("Add", oPre, in.op("Mul", csNew, c.wco()));
    Value o = in.op("Sigmoid", oPre);
    return new Value[] {i, csNew, f, o, ci, co, in.op("Mul", co, o)};
  }
}
