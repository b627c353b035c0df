package returnn.onnx.convert.handlers;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;

/**
 * RETURNN's LSTM kernels as exact ONNX Loops, following the CUDA/C++ code in returnn/native_op.py frame by frame:
 * gate blocks cell-in j, input i, forget f, output o; a float mask m per frame; for NativeLstm2
 * {@code c = (c·f + j·i)·m + c·(1−m)}, {@code y = tanh(c)·o·m}, carried output {@code y + y_prev·(1−m)}. Any
 * start/step (also computed at run time), any mask values, initial states and all outputs are supported, so these
 * handle whatever the LSTM fusion declines and everything under {@code --no-fuse}.
 */
final class ReturnnLstmKernels {
  private ReturnnLstmKernels() {}

  /** NativeLstm2(x [T,B,4n], W [n,4n], y0, c0, i [T,B], start, step) → y, c, h (activated gates), d. */
  static void nativeLstm2(ConversionContext ctx) {
    lstm(ctx, Variant.NATIVE_LSTM2);
  }

  /** LstmLowMem(X [T,B,in], W [in+n,4n], b, y0, c0, i, start, step) → Y, C, d. */
  static void lstmLowMem(ConversionContext ctx) {
    lstm(ctx, Variant.LOW_MEM);
  }

  /** LstmGenericBase(Z [T,B,4n], V_h [n,4n], c [B,n], i [T,B]) → Y, H (cell state + gates), d. Forward, h0 = 0. */
  static void lstmGenericBase(ConversionContext ctx) {
    lstm(ctx, Variant.GENERIC_BASE);
  }

  private enum Variant { NATIVE_LSTM2, LOW_MEM, GENERIC_BASE }

  private static void lstm(ConversionContext ctx, Variant v) {
    OnnxBuilder b = ctx.onnx();
    boolean lowMem = v == Variant.LOW_MEM;
    boolean generic = v == Variant.GENERIC_BASE;
    String signature = generic ? "z, v_h, c, i" : lowMem ? "x, w, b, y0, c0, i, start, step" : "x, w, y0, c0, i, start, step";
    int arity = signature.split(", ").length;
    if (ctx.inputCount() != arity) {
      throw ctx.error("needs " + arity + " inputs (" + signature + "), got " + ctx.inputCount());
    }
    Value x = ctx.input(0);
    Value w = ctx.input(1);
    Value bias = lowMem ? ctx.input(2) : null;
    int maskIn = generic ? 3 : lowMem ? 5 : 4;
    Value mask = b.cast(ctx.input(maskIn), DType.FLOAT);
    Value c0 = ctx.input(generic ? 2 : lowMem ? 4 : 3);
    // LstmGenericBase has no initial output: its first frame sees h = 0.
    Value y0 = generic ? b.op("ConstantOfShape", List.of(b.shapeOf(c0)), Attrs.of("value", Tensor.ofFloats(new long[] {1}, 0f)))
        : ctx.input(lowMem ? 3 : 2);
    Value start = generic ? b.scalarLong(0) : ReturnnLoop.int64(b, ctx.input(lowMem ? 6 : 5));
    Value step = generic ? b.scalarLong(1) : ReturnnLoop.int64(b, ctx.input(lowMem ? 7 : 6));
    Long constStart = generic ? Long.valueOf(0) : constLong(ctx, lowMem ? 6 : 5);
    Long constStep = generic ? Long.valueOf(1) : constLong(ctx, lowMem ? 7 : 6);
    if (constStep != null && constStep == 0) throw ctx.error("step is 0");
    Value frameCount = ReturnnLoop.dim(b, mask, 0);
    Value[] fr = ReturnnLoop.frames(b, frameCount, start, step, lowMem);

    int cellsOut = generic ? -1 : 1;
    int gatesOut = v == Variant.NATIVE_LSTM2 ? 2 : generic ? 1 : -1;
    int finalOut = v == Variant.NATIVE_LSTM2 ? 3 : 2;

    ReturnnLoop loop = new ReturnnLoop(b, ctx.name(), List.of(y0, c0));
    OnnxBuilder in = loop.body();
    Value t = loop.frame(fr[0], step);
    Value h = loop.state(0);
    Value c = loop.state(1);
    Value xt = in.gather(x, t, 0);
    Value z = lowMem
        ? in.op("Add", in.op("MatMul", in.concat(List.of(xt, h), 1), w), bias)
        : in.op("Add", xt, in.op("MatMul", h, w));
    List<Value> g = ReturnnLoop.gates(in, z);
    Value j = in.op("Tanh", g.get(0));
    Value i = in.op("Sigmoid", g.get(1));
    Value f = in.op("Sigmoid", g.get(2));
    Value o = in.op("Sigmoid", g.get(3));
    Value m = in.unsqueeze(in.gather(mask, t, 0), 1);
    Value notM = in.op("Sub", in.scalar(DType.FLOAT, 1), m);
    Value cNew;
    Value y;
    if (generic) {
      // Kernel order: state = i·tanh(z0) + f·c_old, then masked; output = o·tanh(state)·m.
      Value state = in.op("Add", in.op("Mul", i, j), in.op("Mul", f, c));
      cNew = in.op("Add", in.op("Mul", state, m), in.op("Mul", c, notM));
      y = in.op("Mul", in.op("Mul", o, in.op("Tanh", cNew)), m);
    } else {
      cNew = in.op("Add", in.op("Mul", in.op("Add", in.op("Mul", c, f), in.op("Mul", j, i)), m), in.op("Mul", c, notM));
      y = in.op("Mul", in.op("Mul", in.op("Tanh", cNew), o), m);
    }
    // NativeLstm2 carries the last output over masked frames; the others feed back the masked output itself.
    Value hNew = v == Variant.NATIVE_LSTM2 ? in.op("Add", y, in.op("Mul", h, notM)) : y;

    List<Value> scans = new ArrayList<>(List.of(y));
    boolean wantCells = cellsOut >= 0 && ctx.outputUsed(cellsOut);
    boolean wantGates = gatesOut >= 0 && ctx.outputUsed(gatesOut);
    if (wantCells) scans.add(cNew);
    if (wantGates) scans.add(in.concat(List.of(generic ? cNew : j, i, f, o), 1));
    List<Value> out = loop.build(fr[1], List.of(hNew, cNew), scans);
    int k = 2;
    ctx.setOutput(0, ReturnnLoop.place(b, out.get(k++), null, frameCount, fr[0], step, constStart, constStep));
    if (wantCells) {
      ctx.setOutput(cellsOut, ReturnnLoop.place(b, out.get(k++), null, frameCount, fr[0], step, constStart, constStep));
    }
    if (wantGates) {
      // NativeLstm2 computes its gates in place of a copy of x: frames it does not visit keep x.
      Value base = v == Variant.NATIVE_LSTM2 ? x : null;
      ctx.setOutput(gatesOut, ReturnnLoop.place(b, out.get(k++), base, frameCount, fr[0], step, constStart, constStep));
    }
    ctx.setOutput(finalOut, out.get(1));
  }

  private static Long constLong(ConversionContext ctx, int input) {
    Tensor t = ctx.constInput(input);
    return t == null || t.size() != 1 ? null : t.getLong(0);
  }
}
