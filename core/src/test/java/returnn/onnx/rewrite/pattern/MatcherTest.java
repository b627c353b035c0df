package returnn.onnx.rewrite.pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static returnn.onnx.rewrite.pattern.Pattern.any;
import static returnn.onnx.rewrite.pattern.Pattern.constant;
import static returnn.onnx.rewrite.pattern.Pattern.either;
import static returnn.onnx.rewrite.pattern.Pattern.op;
import static returnn.onnx.rewrite.pattern.Pattern.scalar;

import org.junit.jupiter.api.Test;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.TfIr;

class MatcherTest {
  private final Matcher tf = new Matcher(Node.TF);

  @Test
  void commutedInputsMatchOnePattern() {
    TfIr ir = new TfIr();
    Value x = ir.input("x", 2);
    Value s = ir.scalar(3);
    Pattern scaled = op("Mul", any("x"), constant("s")).commutative();
    for (Value v : new Value[] {ir.op("Mul", x, s), ir.op("Mul", s, x)}) {
      Match m = tf.match(scaled, v).match();
      assertSame(x, m.value("x"));
      assertEquals(3.0, m.constant("s").getDouble(0));
    }
    Matcher.Result ordered = tf.match(op("Mul", any("x"), constant("s")), ir.op("Mul", s, x));
    assertFalse(ordered.matched());
    assertTrue(ordered.reason().contains("expected a constant, found graph input 'x'"), ordered.reason());
  }

  @Test
  void aNameBoundTwiceMustBeTheSameValue() {
    TfIr ir = new TfIr();
    Value x = ir.input("x", 2);
    Value y = ir.input("y", 2);
    Pattern centered = op("Sub", any("x"), op("Mean", any("x")));
    assertTrue(tf.match(centered, ir.op("Sub", x, ir.op("Mean", x))).matched());
    Matcher.Result r = tf.match(centered, ir.op("Sub", y, ir.op("Mean", x)));
    assertFalse(r.matched());
    assertTrue(r.reason().contains("'x' would be both graph input 'y' and graph input 'x'"), r.reason());
  }

  @Test
  void alternativesBacktrackWhenALaterPartFails() {
    TfIr ir = new TfIr();
    Value x = ir.input("x", 2);
    Value neg = ir.op("Neg", x);
    // The first alternative binds a = Neg(x), then the second input (x) cannot be `a`: the matcher must come back
    // and take the second alternative, a = x.
    Pattern p = op("AddV2", either(any("a"), op("Neg", any("a"))), any("a"));
    Match m = tf.match(p, ir.op("AddV2", neg, x)).match();
    assertSame(x, m.value("a"));
    assertEquals(2, m.nodes().size());
  }

  @Test
  void commutedInputsBacktrackToo() {
    TfIr ir = new TfIr();
    Value x = ir.input("x", 2);
    Value c = ir.scalar(2);
    // Both orders fit the first input pattern; only the swapped one lets `x` match the Sigmoid's input.
    Pattern p = op("Mul", any("x"), op("Sigmoid", any("x"))).commutative();
    Value v = ir.op("Mul", ir.op("Sigmoid", x), x);
    assertSame(x, tf.match(p, v).match().value("x"));
    assertFalse(tf.match(p, ir.op("Mul", ir.op("Sigmoid", x), c)).matched());
  }

  @Test
  void passThroughOpsAreLookedThrough() {
    TfIr ir = new TfIr();
    Value w = ir.variable(Tensor.ofFloats(new long[] {2, 2}, 1, 2, 3, 4));
    Value x = ir.op("Identity", ir.input("x", 3, 2));
    Match m = tf.match(op("MatMul", any("x"), constant("w")), ir.op("MatMul", x, w)).match();
    assertTrue(m.value("w").isConstant());
    assertEquals("x", m.value("x").name());
  }

  @Test
  void aNodeBoundByNameIsMatchedOnceAndSharedByItsOutputs() {
    TfIr ir = new TfIr();
    Node split = ir.node("SplitV", 2, ir.input("x", 4));
    Pattern.Op s = op("SplitV", any("x")).as("split");
    Pattern p = op("BatchMatMulV2", s.output(0), s.output(1));
    Match m = tf.match(p, ir.op("BatchMatMulV2", split.output(0), split.output(1))).match();
    assertSame(split, m.node("split"));
    assertFalse(tf.match(p, ir.op("BatchMatMulV2", split.output(1), split.output(1))).matched());
  }

  @Test
  void failuresNameTheNodeAndWhatWasExpectedAndAnchorsMarkRealCandidates() {
    TfIr ir = new TfIr();
    Value x = ir.input("x", 2);
    Value v = ir.op("Softmax", ir.op("Relu", x));
    Pattern p = op("Softmax", op("Tanh", any())).anchor();
    Matcher.Result r = tf.match(p, v);
    assertTrue(r.anchored());
    assertTrue(r.reason().startsWith("input 0 of 'softmax_"), r.reason());
    assertTrue(r.reason().endsWith("expected Tanh, found 'relu_0' (Relu)"), r.reason());
    assertFalse(tf.match(op("Tanh", any()), v).anchored());
  }

  @Test
  void scalarsCompareWithToleranceAndInfinitiesExactly() {
    TfIr ir = new TfIr();
    Value x = ir.input("x", 2);
    assertTrue(tf.match(op("Mul", scalar(Math.sqrt(0.5)), any()), ir.op("Mul", ir.scalar(0.70710677f), x)).matched());
    assertTrue(tf.match(op("Mul", scalar(Double.NEGATIVE_INFINITY), any()),
        ir.op("Mul", ir.scalar(Float.NEGATIVE_INFINITY), x)).matched());
    assertFalse(tf.match(op("Mul", scalar(Double.NEGATIVE_INFINITY), any()), ir.op("Mul", ir.scalar(-1e30f), x)).matched());
  }

  @Test
  void onnxNodesDoNotMatchTfPatterns() {
    TfIr ir = new TfIr();
    Node onnxMul = ir.g.addNode(Node.ONNX, "Mul", "m", null, java.util.List.of(ir.input("x", 2), ir.scalar(2)), 1);
    assertFalse(tf.match(op("Mul", any(), any()), onnxMul.output(0)).matched());
    assertTrue(new Matcher(Node.ONNX).match(op("Mul", any(), any()), onnxMul.output(0)).matched());
  }
}
