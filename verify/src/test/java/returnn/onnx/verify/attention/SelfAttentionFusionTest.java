package returnn.onnx.verify.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.GraphDef;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.Fixtures;
import returnn.onnx.fixtures.GraphFormat;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.transformer.TransformerFixtures;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.OpParity;

/**
 * The attention rules on RETURNN-shaped graphs, against TensorFlow: previous k/v state through past/present, the
 * relative-position term beyond its clipping distance, and candidates the rule must decline (with its reason) while
 * the plain conversion stays correct.
 */
class SelfAttentionFusionTest {
  @TempDir
  Path dir;

  @Test
  void previousStateBecomesPastKeyAndValueAndTheFinalStateThePresentOutputs() {
    Fixture f = TransformerFixtures.causalLm(VariableKind.RESOURCE, 1, true);
    Map<String, Tensor> feeds = new LinkedHashMap<>(f.randomFeeds(11, 5, 5, 5));
    feeds.put("dec_01_self_att/initial_state_placeholder_k_left:0", OpParity.normal(3, 3, 2, 4, 8));
    feeds.put("dec_01_self_att/initial_state_placeholder_v_left:0", OpParity.normal(4, 3, 2, 4, 8));
    FusionCheck.Checked c = FusionCheck.run(f, dir, GraphFormat.META, 17, true, 1e-4, feeds);
    assertEquals(1, c.count("com.microsoft.MultiHeadAttention"), c.report());
    assertEquals(1, c.count("Softmax"), "only the output softmax: " + c.report());
    for (returnn.onnx.ir.Value out : c.converted().graph().outputs()) {
      if (out.name().contains("last_state")) assertEquals("MultiHeadAttention", out.producer().op(), out.name());
    }
    assertTrue(c.converted().report().fusions.get(0).contains("(2 heads, causal, previous state) → com.microsoft.MultiHeadAttention"), c.report());
    // The state does not fit ONNX Attention's upper-left causal alignment: opset 23 keeps MultiHeadAttention.
    FusionCheck.Checked c23 = FusionCheck.run(f, dir, GraphFormat.META, 23, true, 1e-4, feeds);
    assertEquals(1, c23.count("com.microsoft.MultiHeadAttention"), c23.report());
  }

  @Test
  void relativePositionsBeyondTheClippingDistanceBecomeTheAttentionBias() {
    Fixture f = TransformerFixtures.conformer(VariableKind.TF1, TransformerFixtures.smallConformer(), 1);
    // Encoder lengths 24, 16, 5 (ceil((len - 1) / 2)): distances up to 23, clipped at 16.
    FusionCheck.Checked c = FusionCheck.run(f, dir, GraphFormat.PB, 17, true, 1e-4, 49, 33, 11);
    assertEquals(1, c.count("com.microsoft.MultiHeadAttention"), c.report());
    assertTrue(c.converted().report().fusions.get(0).contains("(2 heads, key padding, relative positions)"), c.report());
    assertEquals(0, c.count("GatherElements") + c.count("ScatterND"), c.report());
  }

  @Test
  void aRelativePositionTermOfALayerNotFusedIsStillComputedWithoutTheGatheredEncoding() {
    Fixture base = TransformerFixtures.conformer(VariableKind.RESOURCE, TransformerFixtures.smallConformer(), 1);
    Fixture f = withOutputs(base, List.of(Fixtures.OUTPUT, "enc_01_self_att/weights:0"));
    FusionCheck.Checked c = FusionCheck.run(f, dir, GraphFormat.META, 17, true, 1e-5, 45, 12);
    assertEquals(0, c.count("com.microsoft.MultiHeadAttention"), c.report());
    assertEquals(1, c.converted().report().rulesFired.get("AttentionRules.RELATIVE_POSITIONS"), c.report());
  }

  @Test
  void attentionWeightsFetchedElsewhereAreDeclinedWithTheReason() {
    Fixture base = Fixtures.attentionBlock(VariableKind.RESOURCE);
    Fixture f = withOutputs(base, List.of(Fixtures.OUTPUT, "att/Softmax:0"));
    FusionCheck.Checked c = FusionCheck.run(f, dir, GraphFormat.META, 17, true, 1e-5, 6, 3);
    assertEquals(0, c.count("com.microsoft.MultiHeadAttention"), c.report());
    assertTrue(FusionCheck.declined(c).stream().anyMatch(d -> d.startsWith("AttentionRules.SELF_ATTENTION declined at 'att/Reshape_")
        && d.contains("intermediate values are used elsewhere: 'att/Softmax' (Softmax) as a graph output")), c.report());
  }

  @Test
  void aMildMaskValueIsNotFusedBecauseOnnxRuntimeWouldAddItInsteadOfReplacing() {
    Fixture base = Fixtures.attentionBlock(VariableKind.RESOURCE);
    GraphDef.Builder g = base.graph().toBuilder();
    for (var n : g.getNodeBuilderList()) {
      if (n.getName().equals("att/mul_1/x")) n.putAttr("value", org.tensorflow.proto.AttrValue.newBuilder()
          .setTensor(returnn.onnx.reference.TfProtos.tensorProto(Tensor.scalarFloat(-5f))).build());
    }
    Fixture f = new Fixture(base.name() + "_mild", base.kind(), g.build(), base.inputs(), base.outputs(), base.checkpoint());
    FusionCheck.Checked c = FusionCheck.run(f, dir, GraphFormat.META, 17, true, 1e-5, 6, 3);
    assertEquals(0, c.count("com.microsoft.MultiHeadAttention"), c.report());
    assertTrue(FusionCheck.declined(c).stream().anyMatch(d -> d.endsWith("masked energies are set to -5.0, not to a large negative value")),
        c.report());
  }

  private static Fixture withOutputs(Fixture f, List<String> outputs) {
    return new Fixture(f.name() + "_more", f.kind(), f.graph(), f.inputs(), outputs, f.checkpoint());
  }
}
