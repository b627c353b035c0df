package returnn.onnx.rewrite;

import java.util.List;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;

/** Tf-dialect IR graphs built by hand for rule tests (as TfImporter leaves them: float ops with a {@code T} attr). */
public final class TfIr {
  public final Graph g = new Graph("test");
  private int next;

  public Value input(String name, long... dims) {
    return g.addInput(name, DType.FLOAT, Shape.of(dims));
  }

  public Value constant(Tensor t) {
    return g.addConstant("c" + next++, t);
  }

  public Value scalar(float v) {
    return constant(Tensor.scalarFloat(v));
  }

  public Value ints(int... v) {
    return constant(Tensor.ofInts(new long[] {v.length}, v));
  }

  /** A float tf node named {@code op_N} with one output. */
  public Value op(String op, Value... in) {
    return node(op, 1, in).output(0);
  }

  public Node node(String op, int outputs, Value... in) {
    String name = op.toLowerCase(java.util.Locale.ROOT) + "_" + next++;
    Node n = g.addNode(Node.TF, op, name, name, List.of(in), outputs);
    n.set("T", new Attr.Type(DType.FLOAT));
    return n;
  }

  /** A variable as TfImporter leaves it: the checkpoint constant read through a ReadVariableOp. */
  public Value variable(Tensor t) {
    return op("ReadVariableOp", constant(t));
  }

  public Value output(Value v) {
    g.addOutput(v);
    return v;
  }

  public int count(String op) {
    return g.count(op);
  }
}
