package returnn.onnx.verify.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.GraphDef;
import returnn.onnx.ConversionException;
import returnn.onnx.api.ConvertedModel;
import returnn.onnx.api.ReturnnOnnx;
import returnn.onnx.convert.ConversionContext;
import returnn.onnx.convert.OpHandler;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.reference.TfReference;
import returnn.onnx.runtime.OnnxSession;
import returnn.onnx.verify.Comparison;

/**
 * A user-supplied op handler through the public API ({@code Conversion.handler}): TF's {@code Xdivy} (x / y, but 0
 * where x is 0, even where y is 0 too) has no built-in handler; a handler written here converts it, and the model
 * matches TensorFlow running the graph, NaN-free where TF is. A handler that forgets the x = 0 case (plain Div) gives
 * NaN where both are 0 and fails the same comparison, so the comparison can fail.
 */
class CustomOpHandlerTest {
  @TempDir
  Path dir;

  /** Xdivy as ONNX: Where(x == 0, 0, x / y). */
  static final OpHandler XDIVY = ctx -> {
    Value x = ctx.input(0), y = ctx.input(1);
    Value zero = ctx.onnx().scalar(x.dtype(), 0);
    ctx.setOutput(0, ctx.onnx().op("Where", ctx.onnx().op("Equal", x, zero), zero, ctx.onnx().op("Div", x, y)));
  };

  /** The handler a user might write first: plain division (NaN for 0 / 0, where TF gives 0). */
  static final OpHandler PLAIN_DIV = (ConversionContext ctx) -> ctx.setOutput(0, ctx.onnx().op("Div", ctx.input(0), ctx.input(1)));

  private static GraphDef graph() {
    GraphDefBuilder b = new GraphDefBuilder();
    b.placeholder("x", DType.FLOAT, 2, 4);
    b.placeholder("y", DType.FLOAT, 2, 4);
    b.op("Xdivy", "q", "x", "y").attr("T", DType.FLOAT).outType(DType.FLOAT);
    b.op("Tanh", "z", "q").attr("T", DType.FLOAT).outType(DType.FLOAT);
    return b.build();
  }

  private static final Map<String, Tensor> FEEDS = Map.of(
      "x", Tensor.ofFloats(new long[] {2, 4}, new float[] {0, 1.5f, -2, 0, 3, 0, 0.25f, -1}),
      "y", Tensor.ofFloats(new long[] {2, 4}, new float[] {0, 0.5f, 4, 2, -3, 0, 0.5f, 8}));

  private Path writeGraph() throws IOException {
    Path pb = dir.resolve("graph.pb");
    Files.write(pb, graph().toByteArray());
    return pb;
  }

  private static Comparison compare(ConvertedModel m) {
    Tensor tf = TfReference.run(graph(), null, FEEDS, List.of("z")).get("z");
    try (OnnxSession s = OnnxSession.open(m.bytes(), OnnxSession.Options.defaults())) {
      return Comparison.of("z", tf, s.run(FEEDS).get("z"));
    }
  }

  @Test
  void userHandlerConvertsAnOpWithoutBuiltInHandlerAndMatchesTf() throws IOException {
    Path pb = writeGraph();
    assertFalse(ReturnnOnnx.supportedOps().contains("Xdivy"), "Xdivy got a built-in handler: pick another op for this test");
    ConversionException e = assertThrows(ConversionException.class, () -> ReturnnOnnx.convert(pb).outputs("z").run());
    assertTrue(e.getMessage().contains("Xdivy"), e.getMessage());

    ConvertedModel m = ReturnnOnnx.convert(pb).outputs("z").handler("Xdivy", XDIVY).run();
    assertEquals(1, m.report().handlersUsed().get("Xdivy"), m.report().text());
    assertEquals(1, m.report().onnxOps().get("Where"), m.report().text());
    assertTrue(m.metadata().get("returnn_onnx.options").contains("handlers=Xdivy"), m.metadata().toString());
    Comparison c = compare(m);
    assertTrue(c.ok(1e-5, DType.FLOAT), c.toString());
    assertTrue(c.finite() == 8, "TF's Xdivy is finite everywhere here: " + c);

    Comparison broken = compare(ReturnnOnnx.convert(pb).outputs("z").handler("Xdivy", PLAIN_DIV).run());
    assertFalse(broken.ok(1e-5, DType.FLOAT), "plain division must give NaN at 0 / 0: " + broken);
  }

  @Test
  void userHandlerReplacesABuiltInOne() throws IOException {
    Path pb = writeGraph();
    // Tanh written as 2·sigmoid(2x) − 1: the user's handler is used instead of the built-in Tanh.
    OpHandler tanh = ctx -> {
      Value x = ctx.input(0);
      Value two = ctx.onnx().scalar(x.dtype(), 2);
      ctx.setOutput(0, ctx.onnx().op("Sub", ctx.onnx().op("Mul", two, ctx.onnx().op("Sigmoid", ctx.onnx().op("Mul", two, x))),
          ctx.onnx().scalar(x.dtype(), 1)));
    };
    ConvertedModel m = ReturnnOnnx.convert(pb).outputs("z").handler("Xdivy", XDIVY).handler("Tanh", tanh).run();
    assertEquals(null, m.report().onnxOps().get("Tanh"), m.report().text());
    assertEquals(1, m.report().onnxOps().get("Sigmoid"), m.report().text());
    Comparison c = compare(m);
    assertTrue(c.ok(1e-5, DType.FLOAT), c.toString());
  }
}
