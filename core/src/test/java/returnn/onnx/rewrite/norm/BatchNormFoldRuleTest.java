package returnn.onnx.rewrite.norm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.rewrite.RuleContext;
import returnn.onnx.rewrite.TfIr;

class BatchNormFoldRuleTest {
  private static final float[] W = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  private static final float[] BIAS = {0.5f, -1};
  private static final float[] GAMMA = {2, 3}, BETA = {0.1f, 0.2f}, MEAN = {1, -1}, VAR = {4, 9};
  private static final float EPS = 1e-3f;

  /** RETURNN: Conv2D [3,1,2,2] NHWC, AddV2 bias, Reshape [-1,1,1,2], FusedBatchNormV3, Reshape back to tf.shape. */
  private static Node convBatchNorm(TfIr ir, boolean biasUsedElsewhere) {
    Node conv = ir.node("Conv2D", 1, ir.input("x", 1, 5, 1, 2), ir.variable(Tensor.ofFloats(new long[] {3, 1, 2, 2}, W)));
    conv.set("data_format", new Attr.Str("NHWC"));
    Value biased = ir.op("AddV2", conv.output(0), ir.variable(Tensor.ofFloats(new long[] {2}, BIAS)));
    Node bn = ir.node("FusedBatchNormV3", 6, ir.op("Reshape", biased, ir.ints(-1, 1, 1, 2)),
        ir.variable(Tensor.ofFloats(new long[] {2}, GAMMA)), ir.variable(Tensor.ofFloats(new long[] {2}, BETA)),
        ir.variable(Tensor.ofFloats(new long[] {2}, MEAN)), ir.variable(Tensor.ofFloats(new long[] {2}, VAR)));
    bn.set("is_training", new Attr.Bool(false));
    bn.set("epsilon", new Attr.Float(EPS));
    ir.output(ir.op("Reshape", bn.output(0), ir.op("Shape", biased)));
    if (biasUsedElsewhere) ir.output(ir.op("Tanh", biased));
    return conv;
  }

  @Test
  void scalesTheWeightPerOutputChannelAndFoldsTheShiftIntoTheBias() {
    TfIr ir = new TfIr();
    Node conv = convBatchNorm(ir, false);
    assertEquals(1, NormRules.FOLD_BATCH_NORM.apply(ir.g, new RuleContext(17)));
    assertEquals(0, ir.count("FusedBatchNormV3"));
    double[] f = new double[2];
    for (int c = 0; c < 2; c++) f[c] = GAMMA[c] / Math.sqrt(VAR[c] + EPS);
    float[] w = conv.input(1).constant().toFloats();
    for (int i = 0; i < W.length; i++) assertEquals(W[i] * f[i % 2], w[i], 1e-6, "weight " + i);
    Node add = conv.output(0).uses().get(0).node();
    float[] bias = add.input(1).constant().toFloats();
    for (int c = 0; c < 2; c++) assertEquals((BIAS[c] - MEAN[c]) * f[c] + BETA[c], bias[c], 1e-6);
    Node out = ir.g.outputs().get(0).producer();
    assertEquals("Reshape", out.input(0).producer().op());
    assertArrayEquals(new long[] {3, 1, 2, 2}, conv.input(1).constant().shape());
  }

  @Test
  void declinesWhenThePreBatchNormValueIsUsedElsewhere() {
    TfIr ir = new TfIr();
    convBatchNorm(ir, true);
    RuleContext ctx = new RuleContext(17);
    assertEquals(0, NormRules.FOLD_BATCH_NORM.apply(ir.g, ctx));
    assertTrue(ctx.declined().get(0).endsWith("(AddV2) is also used outside the batch norm"), ctx.declined().toString());
  }
}
