package returnn.onnx.rewrite.controlflow;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.Rule;
import returnn.onnx.rewrite.RuleContext;

/**
 * TF1 while loops ({@code Enter}, {@code Merge}, {@code Switch}, {@code LoopCond}, {@code NextIteration},
 * {@code Exit}, with {@code TensorArrayV3} ops) to ONNX {@code Loop}, converted structurally: frames are recovered from
 * the control-flow ops (nested loops too) and each becomes a Loop, innermost first (see {@link LoopConversion}).
 * TensorArray reads outside any loop of arrays filled by {@code unstack} become Gathers. A loop this cannot convert fails
 * naming its frame and the node that blocks it. Needed with {@code --no-fuse} too: nothing else converts these ops.
 */
final class WhileLoopRule implements Rule {
  private static final Set<String> LOOP_OPS = Set.of("Enter", "Exit", "NextIteration", "LoopCond");

  @Override
  public String name() {
    return "ControlFlowRules.WHILE_LOOPS";
  }

  @Override
  public int apply(Graph g, RuleContext ctx) {
    Frames frames = Frames.of(g);
    List<Frames.Frame> order = frames.innermostFirst();
    for (Frames.Frame f : order) LoopConversion.convert(g, frames, f, ctx.opset());
    int reads = replaceReadsOutsideLoops(g, ctx.opset());
    if (order.isEmpty() && reads == 0) return 0;
    g.removeDeadNodes();
    for (Node n : g.allNodes()) {
      if (TensorArrays.isOp(n)) {
        throw ConversionErrors.at(n, "is a TensorArray op left after converting the loops; only arrays filled by "
            + "unstack or written by a loop at the iteration number (or a count-down), then read, gathered or sized "
            + "after it or in a later loop, are supported");
      }
      if (n.domain().equals(Node.TF) && LOOP_OPS.contains(n.op())) {
        throw ConversionErrors.at(n, "is while-loop control flow left after converting the loops");
      }
    }
    return order.size();
  }

  private static int replaceReadsOutsideLoops(Graph g, int opset) {
    List<Node> readers = new ArrayList<>();
    for (Node n : g.nodes()) {
      int f = TensorArrays.isOp(n) ? TensorArrays.flowInput(n) : -1;
      if (f >= 0 && !n.op().equals("TensorArrayScatterV3") && TensorArrays.scattered(n.input(f)) != null) readers.add(n);
    }
    readers.sort(Comparator.comparingInt(TensorArrays::readerRank));
    for (Node n : readers) {
      if (n.graph() != g) continue;
      OnnxBuilder b = new OnnxBuilder(g, opset, n.tfName(), n.tfName());
      TensorArrays.replaceReader(n, TensorArrays.scattered(n.input(TensorArrays.flowInput(n))), b);
    }
    return readers.size();
  }
}
