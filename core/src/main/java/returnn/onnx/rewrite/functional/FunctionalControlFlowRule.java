package returnn.onnx.rewrite.functional;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.eval.TypeInference;
import returnn.onnx.rewrite.Rule;
import returnn.onnx.rewrite.RuleContext;

/**
 * {@code PartitionedCall}/{@code StatefulPartitionedCall} are inlined; {@code While}/{@code StatelessWhile} become ONNX
 * {@code Loop} ({@link WhileConversion}); {@code If}/{@code StatelessIf} become ONNX {@code If} with the branch
 * functions as branches (their arguments replaced by the If's inputs, outer values of the branch). Calls nested in
 * function bodies are converted too, in the graphs they end up in.
 */
final class FunctionalControlFlowRule implements Rule {
  @Override
  public String name() {
    return "FunctionalRules.CONTROL_FLOW";
  }

  @Override
  public int apply(Graph g, RuleContext ctx) {
    int converted = 0;
    while (true) {
      List<Node> calls = new ArrayList<>();
      for (Node n : g.allNodes()) {
        if (Calls.isTf(n, "PartitionedCall", "StatefulPartitionedCall", "While", "StatelessWhile", "If", "StatelessIf")) {
          calls.add(n);
        }
      }
      if (calls.isEmpty()) {
        // What only the calls used (a TensorListReserve now replaced by a scan output) must not reach the Legalizer.
        if (converted > 0) g.removeDeadNodes();
        return converted;
      }
      // Calls first: a call inside a loop body is then plain nodes when the loop is converted.
      Node n = calls.stream().filter(c -> c.op().endsWith("PartitionedCall")).findFirst().orElse(calls.get(0));
      switch (n.op()) {
        case "PartitionedCall", "StatefulPartitionedCall" -> inline(n);
        case "While", "StatelessWhile" -> WhileConversion.convert(n, ctx.opset());
        default -> convertIf(n, ctx.opset());
      }
      converted++;
    }
  }

  /** The function's nodes move into the caller's graph; its arguments become the call's inputs. */
  private static void inline(Node call) {
    Graph g = call.graph();
    Graph f = Calls.function(call, "f");
    List<Value> outs = Calls.takeOutputs(f);
    if (f.inputs().size() != call.inputs().size()) {
      throw Calls.error(call, "passes " + call.inputs().size() + " inputs to function '" + f.name() + "', which takes "
          + f.inputs().size());
    }
    for (int k = 0; k < f.inputs().size(); k++) g.replaceAllUses(f.inputs().get(k), call.input(k));
    for (Node n : new ArrayList<>(f.nodes())) f.moveNode(n, g);
    for (int i = 0; i < call.outputs().size(); i++) {
      if (i >= outs.size()) throw Calls.error(call, "output " + i + " is not among the function's " + outs.size());
      Value o = outs.get(i);
      g.replaceAllUses(call.output(i), f.inputs().contains(o) ? call.input(f.inputs().indexOf(o)) : o);
    }
    call.removeAttr("f");
    g.removeNode(call);
  }

  /**
   * TF's If runs one branch function on the inputs after the predicate; ONNX If branches take no inputs and read
   * outer values, so each branch's arguments are replaced by the If's inputs. A non-bool predicate (TF converts a
   * scalar to bool: nonzero is true) is cast first.
   */
  private static void convertIf(Node call, int opset) {
    Graph g = call.graph();
    List<DType> tout = Calls.types(call, "Tout");
    Value pred = call.input(0);
    DType tcond = call.typeAttr("Tcond");
    if (tcond != null && tcond != DType.BOOL) {
      Node cast = g.addNode(Node.TF, "Cast", call.name() + "/cond_bool", call.tfName() + "/cond_bool", List.of(pred), 1);
      cast.set("SrcT", new Attr.Type(tcond));
      cast.set("DstT", new Attr.Type(DType.BOOL));
      pred = cast.output(0);
    }
    List<Value> args = call.inputs().subList(1, call.inputs().size());
    Graph[] branches = {Calls.function(call, "then_branch"), Calls.function(call, "else_branch")};
    for (Graph b : branches) {
      List<Value> outs = Calls.takeOutputs(b);
      if (b.inputs().size() != args.size()) {
        throw Calls.error(call, "passes " + args.size() + " inputs to branch '" + b.name() + "', which takes " + b.inputs().size());
      }
      if (outs.size() != tout.size()) {
        throw Calls.error(call, "branch '" + b.name() + "' returns " + outs.size() + " values, Tout has " + tout.size());
      }
      List<Value> ins = new ArrayList<>(b.inputs());
      for (int k = 0; k < ins.size(); k++) g.replaceAllUses(ins.get(k), args.get(k));
      for (int i = 0; i < outs.size(); i++) {
        Value o = ins.contains(outs.get(i)) ? args.get(ins.indexOf(outs.get(i))) : outs.get(i);
        b.addOutput(Calls.identity(b, o, tout.get(i), b.name() + "/output_" + i));
      }
      for (Value in : ins) b.removeInput(in);
    }
    Node ifNode = g.addNode(Node.ONNX, "If", call.name(), call.tfName(), List.of(pred), tout.size());
    ifNode.set("then_branch", new Attr.GraphVal(branches[0]));
    ifNode.set("else_branch", new Attr.GraphVal(branches[1]));
    TypeInference.infer(ifNode, opset);
    for (int i = 0; i < call.outputs().size(); i++) g.replaceAllUses(call.output(i), ifNode.output(i));
    call.removeAttr("then_branch");
    call.removeAttr("else_branch");
    g.removeNode(call);
  }
}
