package returnn.onnx.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;

class ExcludePatternsTest {
  private static Node node(String name, String tfName) {
    return new Graph("g").addNode(Node.ONNX, "MatMul", name, tfName, List.of(), 1);
  }

  @Test
  void aPlainPatternNamesALayerAndEverythingBelowIt() {
    ExcludePatterns p = new ExcludePatterns(List.of("output"));
    assertEquals("output", p.excluding(node("output/dot/MatMul/MatMul", "output/dot/MatMul")));
    assertEquals("output", p.excluding(node("output", null)));
    assertNull(p.excluding(node("output2/dot/MatMul", "output2/dot/MatMul")));
    assertNull(p.excluding(node("lstm0/output/MatMul", null)));
  }

  @Test
  void globsMatchWholeNamesAndTfNamesToo() {
    ExcludePatterns p = new ExcludePatterns(List.of("enc_0?_ff*"));
    assertEquals("enc_0?_ff*", p.excluding(node("x/MatMul", "enc_03_ff1_ff2/dot/MatMul")));
    assertNull(p.excluding(node("enc_10_ff1/MatMul", "enc_10_ff1/MatMul")));
  }
}
