package returnn.onnx.verify.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.GraphDef;
import returnn.onnx.ConvertOptions;
import returnn.onnx.Converter;
import returnn.onnx.fixtures.FrozenCnnFixtures;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.verify.Comparison;
import returnn.onnx.verify.OpParity;

/**
 * Frozen NHWC CNNs: the layout pass leaves one Transpose at each end of a chain of convolutions (none where the end is
 * a global average pool), batch norm as Mul + Add is folded into the Conv weights, and the model equals TensorFlow.
 */
class ConvLayoutTest {
  @TempDir
  Path dir;

  private Converter.Result plain(GraphDef g) throws IOException {
    Path pb = dir.resolve("plain.pb");
    Files.write(pb, g.toByteArray());
    return Converter.convert(ConvertOptions.of(pb, null, List.of(FrozenCnnFixtures.OUTPUT)).withFuse(false));
  }

  @Test
  void mobileNetLikeStackKeepsOneTranspose() throws IOException {
    GraphDef g = FrozenCnnFixtures.mobileNetLike(FrozenCnnFixtures.Sizes.TEST);
    Map<String, Tensor> feeds = Map.of(FrozenCnnFixtures.INPUT, OpParity.normal(3, 2, 16, 12, 3));
    OpParity.Result r = OpParity.check(g, feeds, FrozenCnnFixtures.OUTPUT, FrozenCnnFixtures.LOGITS);
    Graph before = plain(g).graph();
    assertEquals(17, before.count("Transpose"));
    assertEquals(1, r.count("Transpose"), "only the input's NHWC → NCHW");
    assertEquals(8, r.count("Conv"));
    assertEquals(0, r.count("Mul"), "every batch norm folded into its Conv");
    assertEquals(0, r.count("Pad"), "tf.pad before the VALID conv is part of the Conv's pads");
    assertEquals(2, r.count("Add"), "the residual Add and the output bias; conv biases and batch norm shifts are Conv biases");
    // A folded bias off by 1e-3 in one channel of the first Conv moves the logits beyond the tolerance.
    Graph onnx = r.converted().graph();
    Node conv = onnx.nodes().stream().filter(n -> n.graph() == onnx && n.isOnnx("Conv")).findFirst().orElseThrow();
    float[] bias = conv.input(2).constant().toFloats();
    bias[0] += 1e-3f;
    onnx.setInput(conv, 2, onnx.addConstant("broken_bias", Tensor.ofFloats(new long[] {bias.length}, bias)));
    Tensor broken = OpParity.runOnnx(r.converted(), feeds).get("output/BiasAdd");
    Comparison c = Comparison.of("broken", r.tf().get(FrozenCnnFixtures.LOGITS), broken);
    assertTrue(!c.ok(OpParity.TOL, DType.FLOAT), c.toString());
  }

  @Test
  void returnnConvFrontEndTransposesOnceAtTheEnd() throws IOException {
    GraphDef g = FrozenCnnFixtures.returnnConvFrontEnd(12, 4, 6, 7);
    Map<String, Tensor> feeds = Map.of(FrozenCnnFixtures.INPUT, OpParity.normal(4, 2, 9, 12));
    OpParity.Result r = OpParity.check(g, feeds, FrozenCnnFixtures.OUTPUT);
    Graph before = plain(g).graph();
    assertEquals(6, before.count("Transpose"));
    assertEquals(1, r.count("Transpose"), "only NHWC → [B,T,F'·C] before the Reshape; [B,T,F,1] → [B,1,T,F] is an Unsqueeze");
  }

  /**
   * Softmax over the channels (its axis moves with the layout), a Mul by a [W,C] constant (broadcast and permuted), a
   * second Conv and a Mean over H without keep_dims: the Transpose left at the end is the [B,C,W] → [B,W,C] of the
   * remaining axes.
   */
  @Test
  void softmaxBroadcastConstantAndReductionMoveWithTheLayout() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 5, 6, 3);
    b.constant("f1", OpParity.normal(10, 3, 3, 3, 4));
    b.constant("f2", OpParity.normal(11, 1, 1, 4, 4));
    b.constant("scale", OpParity.normal(12, 6, 4));
    b.constant("axis", Tensor.ofInts(new long[] {1}, 1));
    conv(b, "c1", "x", "f1");
    b.op("Softmax", "sm", "c1").attr("T", DType.FLOAT);
    b.op("Mul", "scaled", "sm", "scale").attr("T", DType.FLOAT);
    conv(b, "c2", "scaled", "f2");
    b.op("Mean", "mean", "c2", "axis").attr("T", DType.FLOAT).attr("Tidx", DType.INT32).attr("keep_dims", false);
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(3, 2, 5, 6, 3)), "mean");
    assertEquals(2, r.count("Transpose"), "the input's and the last [B,C,W] → [B,W,C]");
    assertEquals(1, r.count("Softmax"));
  }

  /**
   * RETURNN's time pooling behind a time-major layer: Transpose to batch-major, a Reshape to a shape read with tf.shape
   * (dims unknown statically: equal because they read the same axes), ExpandDims, a 1x2 MaxPool, Squeeze, Transpose
   * back. The first Transpose goes through the Reshape and the Unsqueeze and merges with the pool's NHWC → NCHW; the
   * pool's NCHW → NHWC goes through the Squeeze and merges with the last one.
   */
  @Test
  void timePoolPushesThroughReshapeAndExpandDims() throws IOException {
    GraphDefBuilder b = new GraphDefBuilder();
    returnn.onnx.fixtures.TfOps o = new returnn.onnx.fixtures.TfOps(b);
    b.placeholder("x", DType.FLOAT, -1, -1, 6);
    String h = o.tanh("x");
    String bm = o.transpose(h, 1, 0, 2);
    String shape = o.shape(h);
    String merged = o.reshape(bm, List.of(o.index(shape, 1), o.index(shape, 0), 6));
    String e = o.expandDims(merged, 1);
    String pool = b.op("MaxPool", "pool", e).attr("T", DType.FLOAT).attrInts("ksize", 1, 1, 2, 1)
        .attrInts("strides", 1, 1, 2, 1).attr("padding", "VALID").attr("data_format", "NHWC").name();
    b.op("Squeeze", "squeezed", pool).attr("T", DType.FLOAT).attrInts("squeeze_dims", 1);
    b.constant("perm", Tensor.ofInts(new long[] {3}, 1, 0, 2));
    b.op("Transpose", "y", "squeezed", "perm").attr("T", DType.FLOAT).attr("Tperm", DType.INT32);
    GraphDef g = b.build();
    OpParity.Result r = OpParity.check(g, Map.of("x", OpParity.normal(5, 7, 3, 6)), "y");
    Path pb = dir.resolve("pool.pb");
    Files.write(pb, g.toByteArray());
    Graph before = Converter.convert(ConvertOptions.of(pb, null, List.of("y")).withFuse(false)).graph();
    assertEquals(4, before.count("Transpose"));
    assertEquals(2, r.count("Transpose"), "one into the pool's NCHW, one out of it");
    assertEquals(1, r.count("MaxPool"));
  }

  /**
   * A swish ({@code x · sigmoid(x)}) between two NHWC convolutions: the Transpose after the first Conv has two
   * consumers, both elementwise, so it is pushed through both and cancels against the second Conv's.
   */
  @Test
  void transposeWithSeveralConsumersPushesThroughSwish() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, -1, 5, 6, 3);
    b.constant("f1", OpParity.normal(20, 3, 3, 3, 4));
    b.constant("f2", OpParity.normal(21, 1, 1, 4, 4));
    conv(b, "c1", "x", "f1");
    b.op("Sigmoid", "sig", "c1").attr("T", DType.FLOAT);
    b.op("Mul", "swish", "c1", "sig").attr("T", DType.FLOAT);
    conv(b, "c2", "swish", "f2");
    OpParity.Result r = OpParity.check(b.build(), Map.of("x", OpParity.normal(3, 2, 5, 6, 3)), "c2");
    assertEquals(2, r.count("Transpose"), "the input's and the output's");
    assertEquals(1, r.count("Sigmoid"));
  }

  private static void conv(GraphDefBuilder b, String name, String x, String f) {
    b.op("Conv2D", name, x, f).attr("T", DType.FLOAT).attrInts("strides", 1, 1, 1, 1).attr("padding", "SAME");
  }
}
