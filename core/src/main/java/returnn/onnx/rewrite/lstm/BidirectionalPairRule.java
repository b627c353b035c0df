package returnn.onnx.rewrite.lstm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.NodeRule;
import returnn.onnx.rewrite.RuleContext;

/**
 * A forward and a reverse ONNX LSTM over the same input and lengths (RETURNN's {@code lstmK_fw} / {@code lstmK_bw}
 * pair) → one {@code bidirectional} LSTM. When their outputs are concatenated on the feature axis (RETURNN's
 * {@code concat_sources} ConcatV2 of [T,B,n] and [T,B,n]), the ConcatV2 becomes Transpose + Reshape of the
 * [T,2,B,n] Y: the one copy the concatenation made anyway. Other uses get Slices of the merged outputs.
 *
 * <p>It runs at the TF level and again at the ONNX level: in real RETURNN graphs each layer of a first pair transposes
 * and flattens {@code data} itself, so the two X inputs are only one value once common subexpressions are merged
 * (and ConcatV2 is then an ONNX Concat).
 */
final class BidirectionalPairRule extends NodeRule {
  static final String NAME = "LstmRules.BIDIRECTIONAL_PAIR";
  private static final int X = 0;
  private static final int W = 1;
  private static final int R = 2;
  private static final int B = 3;
  private static final int SEQ_LENS = 4;
  private static final int INITIAL_H = 5;
  private static final int INITIAL_C = 6;
  private static final int P = 7;

  BidirectionalPairRule() {
    super(NAME, false);
  }

  @Override
  protected boolean visit(Graph g, Node fw, RuleContext ctx) {
    if (!isLstm(fw, "forward")) return false;
    Node bw = partner(g, fw, ctx);
    if (bw == null) return false;
    merge(g, ctx, fw, bw);
    return true;
  }

  private static boolean isLstm(Node n, String direction) {
    return n.isOnnx("LSTM") && n.stringAttr("direction", "forward").equals(direction);
  }

  /** The reverse LSTM to pair with {@code fw}: same X; preferably the one whose output is concatenated with fw's. */
  private static Node partner(Graph g, Node fw, RuleContext ctx) {
    Node any = null;
    for (Node bw : g.nodes()) {
      if (!isLstm(bw, "reverse") || !TfPatterns.sameTensor(fw.input(X), bw.input(X))) continue;
      String why = incompatibility(fw, bw);
      if (why != null) {
        ctx.decline(NAME, fw.describe() + " + " + bw.describe(), why);
        continue;
      }
      if (concatOf(fw, bw) != null) return bw;
      if (any == null) any = bw;
    }
    return any;
  }

  private static String incompatibility(Node fw, Node bw) {
    if (fw.intAttr("hidden_size", 0) != bw.intAttr("hidden_size", 0)) return "different hidden sizes";
    if (!sameLengths(fw.input(SEQ_LENS), bw.input(SEQ_LENS))) return "different sequence lengths";
    for (int i : new int[] {INITIAL_H, INITIAL_C, P}) {
      if ((fw.input(i) == null) != (bw.input(i) == null)) return "only one of them has input " + i + " (initial state/peepholes)";
    }
    for (int i : new int[] {W, R, B, P}) {
      if (fw.input(i) != null && !fw.input(i).isConstant() || bw.input(i) != null && !bw.input(i).isConstant()) {
        return "weights are not constants";
      }
    }
    for (String a : List.of("clip", "activations", "input_forget", "layout")) {
      if (!Objects.equals(String.valueOf(fw.attr(a)), String.valueOf(bw.attr(a)))) return "attribute " + a + " differs";
    }
    return null;
  }

  /** One lengths value, or int32 Casts of one value (each kernel rule casts non-int32 lengths itself). */
  private static boolean sameLengths(Value a, Value b) {
    if (Objects.equals(a, b)) return true;
    if (a == null || b == null || a.producer() == null || b.producer() == null) return false;
    Node ca = a.producer();
    Node cb = b.producer();
    return ca.isOnnx("Cast") && cb.isOnnx("Cast") && ca.input(0) == cb.input(0)
        && ca.intAttr("to", 0) == cb.intAttr("to", 0);
  }

  /** The ConcatV2 of squeeze(fw.Y) and squeeze(bw.Y) on the feature axis, if there is one. */
  private static Node concatOf(Node fw, Node bw) {
    Value fwY = squeezedY(fw);
    Value bwY = squeezedY(bw);
    if (fwY == null || bwY == null) return null;
    for (Value.Use u : fwY.uses()) {
      Node c = u.node();
      Long axis;
      if (c.is(Node.TF, "ConcatV2") && c.inputs().size() == 3) {
        axis = TfPatterns.scalarInt(c.input(2));
      } else if (c.isOnnx("Concat") && c.inputs().size() == 2) {
        axis = c.intAttr("axis", 0);
      } else {
        continue;
      }
      if (c.input(0) == fwY && c.input(1) == bwY && axis != null && (axis == 2 || axis == -1)) return c;
    }
    return null;
  }

  /** The [T,B,n] squeeze of Y that the kernel rules put behind a one-direction LSTM. */
  private static Value squeezedY(Node lstm) {
    for (Value.Use u : lstm.output(OnnxLstm.Y).uses()) {
      Node s = u.node();
      if (s.isOnnx("Squeeze") && s.input(1) != null && Arrays.equals(TfPatterns.constLongs(s.input(1)), new long[] {1})) {
        return s.output(0);
      }
    }
    return null;
  }

  private static void merge(Graph g, RuleContext ctx, Node fw, Node bw) {
    OnnxBuilder ob = new OnnxBuilder(g, ctx.opset(), fw.tfName() + "+bw", fw.tfName());
    Node concat = concatOf(fw, bw);
    List<Value> in = new ArrayList<>();
    in.add(fw.input(X));
    for (int i : new int[] {W, R, B}) in.add(stacked(ob, fw.input(i), bw.input(i)));
    in.add(fw.input(SEQ_LENS));
    for (int i : new int[] {INITIAL_H, INITIAL_C}) {
      in.add(fw.input(i) == null ? null : OnnxLstm.typed(ob.concat(List.of(fw.input(i), bw.input(i)), 0), Shape.UNKNOWN));
    }
    in.add(fw.input(P) == null ? null : stacked(ob, fw.input(P), bw.input(P)));
    while (in.get(in.size() - 1) == null) in.remove(in.size() - 1);
    Node bi = g.addNode(Node.ONNX, "LSTM", fw.name() + "_bidirectional", fw.tfName(), in, 3);
    for (var a : fw.attrs().entrySet()) bi.set(a.getKey(), a.getValue());
    bi.set("direction", new Attr.Str("bidirectional"));
    Shape ys = fw.output(OnnxLstm.Y).shape();
    OnnxLstm.typed(bi.output(OnnxLstm.Y), ys.hasRank() ? ys.withDim(1, returnn.onnx.ir.Dim.of(2)) : Shape.UNKNOWN);
    for (int o : new int[] {OnnxLstm.Y_H, OnnxLstm.Y_C}) {
      Shape s = fw.output(o).shape();
      OnnxLstm.typed(bi.output(o), s.hasRank() ? s.withDim(0, returnn.onnx.ir.Dim.of(2)) : Shape.UNKNOWN);
    }
    List<Node> roots = new ArrayList<>(List.of(fw, bw));
    if (concat != null) {
      // [T,2,B,n] → [T,B,2,n] → [T,B,2n]: fw features first, as ConcatV2([fw, bw], -1) has them.
      Value t = ob.transpose(bi.output(OnnxLstm.Y), 0, 2, 1, 3);
      g.replaceAllUses(concat.output(0), ob.reshape(t, ob.constLongs(0, 0, -1)));
      DeadNodes.removeFrom(g, List.of(concat));
    }
    for (int dir = 0; dir < 2; dir++) {
      Node uni = dir == 0 ? fw : bw;
      if (uni.output(OnnxLstm.Y).useCount() > 0) {
        g.replaceAllUses(uni.output(OnnxLstm.Y), ob.slice(bi.output(OnnxLstm.Y), new long[] {dir}, new long[] {dir + 1},
            new long[] {1}, null));
      }
      for (int o : new int[] {OnnxLstm.Y_H, OnnxLstm.Y_C}) {
        if (uni.output(o).useCount() == 0) continue;
        g.replaceAllUses(uni.output(o), ob.slice(bi.output(o), new long[] {dir}, new long[] {dir + 1}, new long[] {0}, null));
      }
    }
    DeadNodes.removeFrom(g, roots);
    ctx.fused(NAME, fw.describe() + " + " + bw.describe() + " → one bidirectional LSTM"
        + (concat != null ? ", " + concat.describe() + " → Transpose + Reshape of Y" : ""));
  }

  private static Value stacked(OnnxBuilder ob, Value a, Value b) {
    Tensor t = LstmWeights.stackDirections(a.constant(), b.constant());
    return ob.constant(t);
  }
}
