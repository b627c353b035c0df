package returnn.onnx.convert.handlers;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Value;
import returnn.onnx.ops.OnnxBuilder;

/**
 * TF's {@code BlockLSTM} / {@code BlockLSTMV2} (RETURNN's {@code lstmblockfused} unit in TF1.15-era graphs) as an
 * exact ONNX Loop, following LSTMBlockCellFprop in tensorflow/core/kernels/rnn/lstm_ops.cc per frame:
 * {@code icfo = [x, h]·w + b}; i = σ(i + cs·wci); ci = tanh(ci); f = σ(f + forget_bias + cs·wcf);
 * cs' = ci·i + cs·f, clipped to ±cell_clip when cell_clip > 0; co = tanh(cs'); o = σ(o + cs'·wco); h' = co·o.
 * Frames from {@code seq_len_max} on are zeros in every output. Gate blocks are i, c, f, o (V2: i, f, c, o); V2 has
 * no forget bias. This is what the LSTM fusion falls back to, e.g. with a cell clip.
 */
final class ReturnnBlockLstm {
  private static final String[] OUTPUTS = {"i", "cs", "f", "o", "ci", "co", "h"};

  private ReturnnBlockLstm() {}

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
    Value icfo = in.op("Add", in.op("MatMul", in.concat(List.of(in.gather(x, t, 0), h), 1), w), bias);
    List<Value> g = ReturnnLoop.gates(in, icfo);
    Value iPre = g.get(0);
    Value ciPre = g.get(v2 ? 2 : 1);
    Value fPre = g.get(v2 ? 1 : 2);
    Value oPre = g.get(3);
    if (peephole) iPre = in.op("Add", iPre, in.op("Mul", cs, ctx.input(5)));
    Value i = in.op("Sigmoid", iPre);
    Value ci = in.op("Tanh", ciPre);
    if (forgetBias != 0) fPre = in.op("Add", fPre, in.scalar(DType.FLOAT, forgetBias));
    if (peephole) fPre = in.op("Add", fPre, in.op("Mul", cs, ctx.input(6)));
    Value f = in.op("Sigmoid", fPre);
    Value csNew = in.op("Add", in.op("Mul", ci, i), in.op("Mul", cs, f));
    if (clip > 0) csNew = in.op("Clip", csNew, in.scalar(DType.FLOAT, -clip), in.scalar(DType.FLOAT, clip));
    Value co = in.op("Tanh", csNew);
    if (peephole) oPre = in.op("Add", oPre, in.op("Mul", csNew, ctx.input(7)));
    Value o = in.op("Sigmoid", oPre);
    Value hNew = in.op("Mul", co, o);

    Value[] perFrame = {i, csNew, f, o, ci, co, hNew};
    List<Value> scans = new ArrayList<>();
    List<Integer> used = new ArrayList<>();
    for (int k = 0; k < OUTPUTS.length; k++) {
      if (ctx.outputUsed(k)) {
        scans.add(perFrame[k]);
        used.add(k);
      }
    }
    List<Value> out = loop.build(trips, List.of(hNew, csNew), scans);
    for (int k = 0; k < used.size(); k++) {
      // Frames at and after seq_len_max stay zero.
      ctx.setOutput(used.get(k), ReturnnLoop.place(b, out.get(2 + k), null, frameCount, b.scalarLong(0),
          b.scalarLong(1), null, null));
    }
  }
}
