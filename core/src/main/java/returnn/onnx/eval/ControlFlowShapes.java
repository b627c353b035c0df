package returnn.onnx.eval;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;

/**
 * Shapes of ONNX Loop and If outputs from their subgraphs. Loop: carried outputs have the body input's (invariant)
 * shape, scan outputs the body output's with the iterations in front. If: dims both branches agree on.
 */
final class ControlFlowShapes {
  private ControlFlowShapes() {}

  static void register(ShapeRuleTable t) {
    t.putOutputs(ControlFlowShapes::controlFlow, "Loop", "If");
  }

  /**
   * Before a Loop body is legalized: loop-carried body inputs the rule could not type take the dtype of the Loop's
   * initial value and its rank with every dim unknown (a carried value may change size between iterations).
   */
  static void bindLoopBody(Node loop) {
    Graph body = ((Attr.GraphVal) loop.attr("body")).value();
    for (int i = 2; i < body.inputs().size() && i < loop.inputs().size(); i++) {
      Value in = body.inputs().get(i);
      Value init = loop.input(i);
      if (init == null) continue;
      if (in.dtype() == null) in.setDtype(init.dtype());
      if (!in.shape().hasRank() && init.shape().hasRank()) in.setShape(Shapes.unknownOfRank(init.shape().rank()));
    }
  }

  private static void controlFlow(Node n, int opset) {
    if (!n.domain().isEmpty()) return;
    for (int i = 0; i < n.outputs().size(); i++) {
      Value out = n.output(i);
      if (out.shape().hasRank()) continue;
      Shape s;
      if (n.op().equals("Loop")) {
        Graph body = ((Attr.GraphVal) n.attr("body")).value();
        int carried = body.inputs().size() - 2;
        if (i < carried) {
          s = body.inputs().get(i + 2).shape();
        } else {
          Shape e = body.outputs().get(i + 1).shape();
          List<Dim> d = new ArrayList<>(List.of(Dim.UNKNOWN));
          if (e.hasRank()) d.addAll(e.dims());
          s = e.hasRank() ? Shape.of(d) : Shape.UNKNOWN;
        }
      } else {
        Shape a = ((Attr.GraphVal) n.attr("then_branch")).value().outputs().get(i).shape();
        Shape b = ((Attr.GraphVal) n.attr("else_branch")).value().outputs().get(i).shape();
        if (!a.hasRank() || !b.hasRank() || a.rank() != b.rank()) continue;
        List<Dim> d = new ArrayList<>();
        for (int k = 0; k < a.rank(); k++) d.add(a.dim(k).equals(b.dim(k)) ? a.dim(k) : Dim.UNKNOWN);
        s = Shape.of(d);
      }
      out.setShape(s);
    }
  }
}
