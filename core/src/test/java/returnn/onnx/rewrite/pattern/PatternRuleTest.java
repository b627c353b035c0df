package returnn.onnx.rewrite.pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static returnn.onnx.rewrite.pattern.Pattern.any;
import static returnn.onnx.rewrite.pattern.Pattern.constant;
import static returnn.onnx.rewrite.pattern.Pattern.op;

import java.util.List;
import org.junit.jupiter.api.Test;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.RuleContext;
import returnn.onnx.rewrite.TfIr;

class PatternRuleTest {
  /** Drops a multiplication by one; declines other factors with a reason. */
  private static final PatternRule TIMES_ONE = new PatternRule("Test.TIMES_ONE", Node.TF,
      op("Mul", any("x"), constant("s")).commutative(),
      (m, ctx) -> m.constant("s").getDouble(0) == 1 ? null : "factor is " + m.constant("s").getDouble(0),
      (m, g, ctx) -> g.replaceAllUses(m.root(), m.value("x")));

  @Test
  void firesOncePerMatchReportsCountAndRemovesWhatDied() {
    TfIr ir = new TfIr();
    Value x = ir.input("x", 2);
    ir.output(ir.op("Tanh", ir.op("Mul", ir.scalar(1), ir.op("Mul", x, ir.scalar(1)))));
    RuleContext ctx = new RuleContext(17);
    assertEquals(2, TIMES_ONE.apply(ir.g, ctx));
    assertEquals(0, ir.count("Mul"));
    assertSame(x, ir.g.outputs().get(0).producer().input(0));
    assertEquals(0, TIMES_ONE.apply(ir.g, ctx));
  }

  @Test
  void aFailedCheckIsReportedWithItsReason() {
    TfIr ir = new TfIr();
    ir.output(ir.op("Mul", ir.input("x", 2), ir.scalar(2)));
    RuleContext ctx = new RuleContext(17);
    assertEquals(0, TIMES_ONE.apply(ir.g, ctx));
    assertEquals(List.of("Test.TIMES_ONE declined at 'mul_1' (Mul): factor is 2.0"), ctx.declined());
  }

  @Test
  void onlyMatchesThatReachedAnAnchorAreReported() {
    PatternRule anchored = new PatternRule("Test.ANCHORED", Node.TF,
        op("Softmax", op("Tanh", any())).anchor(), (m, ctx) -> null, (m, g, ctx) -> {});
    PatternRule plain = new PatternRule("Test.PLAIN", Node.TF,
        op("Softmax", op("Tanh", any())), (m, ctx) -> null, (m, g, ctx) -> {});
    TfIr ir = new TfIr();
    ir.output(ir.op("Softmax", ir.op("Relu", ir.input("x", 2))));
    RuleContext ctx = new RuleContext(17);
    plain.apply(ir.g, ctx);
    assertTrue(ctx.declined().isEmpty());
    anchored.apply(ir.g, ctx);
    assertEquals(1, ctx.declined().size());
    assertTrue(ctx.declined().get(0).contains("expected Tanh, found 'relu_0' (Relu)"), ctx.declined().toString());
  }
}
