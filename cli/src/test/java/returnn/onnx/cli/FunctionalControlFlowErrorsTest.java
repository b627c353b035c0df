package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

/**
 * Control flow v2 graphs whose function library is broken or hostile: one {@code error:} line naming the call and the
 * function, exit 1, no model written, no stack trace. Unsupported ops inside function bodies are listed all at once,
 * each under its function's name.
 */
class FunctionalControlFlowErrorsTest {
  @TempDir
  Path dir;

  private static AttrValue type(DataType t) {
    return AttrValue.newBuilder().setType(t).build();
  }

  private static AttrValue types(DataType... ts) {
    AttrValue.ListValue.Builder l = AttrValue.ListValue.newBuilder();
    for (DataType t : ts) l.addType(t);
    return AttrValue.newBuilder().setList(l).build();
  }

  private static AttrValue func(String name) {
    return AttrValue.newBuilder().setFunc(NameAttrList.newBuilder().setName(name)).build();
  }

  private static NodeDef placeholder() {
    return NodeDef.newBuilder().setName("x").setOp("Placeholder").putAttr("dtype", type(DataType.DT_FLOAT)).build();
  }

  /** {@code y = call(x)} by PartitionedCall to {@code f}. */
  private static NodeDef call(String name, String input, String f) {
    return NodeDef.newBuilder().setName(name).setOp("PartitionedCall").addInput(input).putAttr("f", func(f))
        .putAttr("Tin", types(DataType.DT_FLOAT)).putAttr("Tout", types(DataType.DT_FLOAT)).build();
  }

  /** A float → float function whose body is {@code body} nodes, returning node {@code ret}. */
  private static FunctionDef function(String name, String ret, NodeDef... body) {
    FunctionDef.Builder f = FunctionDef.newBuilder().setSignature(OpDef.newBuilder().setName(name)
        .addInputArg(OpDef.ArgDef.newBuilder().setName("a").setType(DataType.DT_FLOAT))
        .addOutputArg(OpDef.ArgDef.newBuilder().setName("b").setType(DataType.DT_FLOAT)));
    for (NodeDef n : body) f.addNodeDef(n);
    return f.putRet("b", ret).build();
  }

  private static NodeDef unary(String name, String op, String input) {
    return NodeDef.newBuilder().setName(name).setOp(op).addInput(input).putAttr("T", type(DataType.DT_FLOAT)).build();
  }

  private CliRunner.Run convert(GraphDef g) throws Exception {
    Path pb = dir.resolve("graph.pb");
    Files.write(pb, g.toByteArray());
    return CliRunner.run("convert", "--graph", pb.toString(), "--outputs", "y", "--output", dir.resolve("m.onnx").toString());
  }

  private void assertFailsCleanly(CliRunner.Run r, String... fragments) {
    assertEquals(1, r.exit(), r.out() + r.err());
    assertTrue(r.err().startsWith("error: "), r.err());
    for (String f : fragments) assertTrue(r.err().contains(f), "expected '" + f + "' in: " + r.err());
    assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    assertFalse(Files.exists(dir.resolve("m.onnx")), "no model file is left behind");
  }

  @Test
  void recursiveFunctionsAreOneError() throws Exception {
    GraphDef g = GraphDef.newBuilder().addNode(placeholder()).addNode(call("y", "x", "ping"))
        .setLibrary(FunctionDefLibrary.newBuilder()
            .addFunction(function("ping", "c:output:0", call("c", "a", "pong")))
            .addFunction(function("pong", "c:output:0", call("c", "a", "ping"))))
        .build();
    CliRunner.Run r = convert(g);
    assertFailsCleanly(r, "node 'pong/c' (PartitionedCall)", "recursively", "ping -> pong -> ping");
    assertEquals(1, r.err().lines().count(), r.err());
  }

  @Test
  void missingFunctionIsOneError() throws Exception {
    NodeDef loop = NodeDef.newBuilder().setName("y").setOp("StatelessWhile").addInput("x")
        .putAttr("T", types(DataType.DT_FLOAT)).putAttr("cond", func("cond_fn")).putAttr("body", func("body_fn")).build();
    GraphDef g = GraphDef.newBuilder().addNode(placeholder()).addNode(loop)
        .setLibrary(FunctionDefLibrary.newBuilder().addFunction(function("body_fn", "t:y:0", unary("t", "Tanh", "a"))))
        .build();
    CliRunner.Run r = convert(g);
    assertFailsCleanly(r, "node 'y' (StatelessWhile)", "'cond_fn'", "does not define", "body_fn");
    assertEquals(1, r.err().lines().count(), r.err());
  }

  @Test
  void unsupportedOpsInFunctionBodiesAreListedAtOnceWithTheirFunctions() throws Exception {
    GraphDef g = GraphDef.newBuilder().addNode(placeholder()).addNode(call("c", "x", "outer")).addNode(unary("y", "Tanh", "c"))
        .setLibrary(FunctionDefLibrary.newBuilder()
            .addFunction(function("outer", "i:output:0", unary("u", "FrobnicateOp", "a"), call("i", "u:y:0", "inner")))
            .addFunction(function("inner", "v:y:0", unary("w", "FrobnicateOp", "a"), unary("v", "WibbleOp", "w:y:0"))))
        .build();
    CliRunner.Run r = convert(g);
    assertFailsCleanly(r, "FrobnicateOp x2", "WibbleOp x1", "outer/u", "inner/w", "inner/v");
  }
}
