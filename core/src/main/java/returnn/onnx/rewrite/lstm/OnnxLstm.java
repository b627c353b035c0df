package returnn.onnx.rewrite.lstm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;

/**
 * Emits ONNX {@code LSTM} nodes and the small adapters between them and RETURNN's [T,B,n] tensors. Always
 * {@code layout=0} (time-major X and Y [T,D,B,H]): it is RETURNN's own layout, and ONNX Runtime's CPU LSTM rejects
 * {@code layout=1} ("Batchwise recurrent operations (layout == 1) are not supported", lstm_base.h).
 * Inputs may still be tf-dialect values; the Legalizer rewires them, so output types are set here explicitly.
 */
final class OnnxLstm {
  /** Output indices of ONNX LSTM. */
  static final int Y = 0;
  static final int Y_H = 1;
  static final int Y_C = 2;

  /**
   * Everything one LSTM node needs.
   *
   * @param w [D,4H,I], r [D,4H,H], b [D,8H], p [D,3H] or null, in ONNX gate order
   * @param seqLens [B] lengths or null; initH/initC [D,B,H] or null (zeros)
   */
  record Spec(String name, String tfName, Value x, Tensor w, Tensor r, Tensor b, Tensor p, Value seqLens,
      Value initH, Value initC, String direction, int hidden) {
    int directions() {
      return direction.equals("bidirectional") ? 2 : 1;
    }
  }

  private OnnxLstm() {}

  static Node emit(Graph g, OnnxBuilder ob, Spec s) {
    List<Value> in = new ArrayList<>(Arrays.asList(s.x(), ob.constant(s.w()), ob.constant(s.r()),
        ob.constant(s.b()), s.seqLens(), s.initH(), s.initC(), s.p() == null ? null : ob.constant(s.p())));
    while (in.get(in.size() - 1) == null) in.remove(in.size() - 1);
    Node n = g.addNode(Node.ONNX, "LSTM", s.name(), s.tfName(), in, 3);
    n.set("hidden_size", new Attr.Int(s.hidden()));
    n.set("direction", new Attr.Str(s.direction()));
    Dim d = Dim.of(s.directions());
    Dim h = Dim.of(s.hidden());
    Shape xs = s.x().shape();
    Dim t = xs.hasRank() && xs.rank() == 3 ? xs.dim(0) : Dim.UNKNOWN;
    Dim batch = xs.hasRank() && xs.rank() == 3 ? xs.dim(1) : Dim.UNKNOWN;
    typed(n.output(Y), Shape.of(t, d, batch, h));
    typed(n.output(Y_H), Shape.of(d, batch, h));
    typed(n.output(Y_C), Shape.of(d, batch, h));
    return n;
  }

  /** Lengths as ONNX wants them (int32); RETURNN's are int32 already, so this is usually no node. */
  static Value int32(OnnxBuilder ob, Value lengths) {
    return lengths.dtype() == DType.INT32 ? lengths : ob.cast(lengths, DType.INT32);
  }

  /** A [B,n] state as a one-direction [1,B,n] initial state, or null for zeros. */
  static Value initialState(OnnxBuilder ob, Value state) {
    if (state == null || TfPatterns.isZeros(state)) return null;
    return typed(ob.unsqueeze(state, 0), Shape.UNKNOWN);
  }

  /** RETURNN's [T,B,n] from the [T,1,B,n] Y of a one-direction LSTM (a Squeeze: no copy). */
  static Value timeMajor(OnnxBuilder ob, Value y) {
    return typed(ob.squeeze(y, 1), Shape.UNKNOWN);
  }

  /**
   * RETURNN's [B,n] final state from a [1,B,n] Y_h or Y_c. A sequence of length 0 keeps its initial state in RETURNN,
   * but gets zeros from ONNX Runtime's Y_h/Y_c; with a non-zero {@code initial} ({@code initialState} not null) the
   * initial state is selected there.
   */
  static Value finalState(OnnxBuilder ob, Value state, Value lengths, Value initial, Value initialState) {
    Value s = typed(ob.squeeze(state, 0), Shape.UNKNOWN);
    if (initialState == null) return s;
    Value started = ob.unsqueeze(ob.op("Greater", lengths, ob.scalar(DType.INT32, 0)), 1);
    return typed(ob.op("Where", started, s, initial), Shape.UNKNOWN);
  }

  /**
   * The [B,n] final state of a run over the whole time axis ({@code dynamic_rnn} without {@code sequence_length}): with
   * a non-zero {@code initial}, a time axis of length 0 keeps it, as TF's loop of no steps does.
   */
  static Value finalStateFullLength(OnnxBuilder ob, Value state, Value x, Value initial, Value initialState) {
    Value s = typed(ob.squeeze(state, 0), Shape.UNKNOWN);
    if (initialState == null) return s;
    Value steps = ob.op("Gather", java.util.List.of(ob.op("Shape", x), ob.scalarLong(0)), java.util.Map.of("axis", new Attr.Int(0)));
    return typed(ob.op("Where", ob.op("Greater", steps, ob.scalarLong(0)), s, initial), Shape.UNKNOWN);
  }

  /** Values made from tf-dialect inputs have no inferred type yet; LSTM data is always float32. */
  static Value typed(Value v, Shape s) {
    if (v.dtype() == null) v.setDtype(DType.FLOAT);
    if (!v.shape().hasRank() && s.hasRank()) v.setShape(s);
    return v;
  }
}
