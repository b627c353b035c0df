package returnn.onnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * core's module-info, seen by a modular caller: javac compiles a module that {@code requires returnn.onnx.core}
 * against core's classes on the module path. The API and the handler/rule SPI packages are readable; an internal
 * package (exported only to the project's own modules) is not.
 */
class ModuleExportsTest {
  @TempDir
  Path dir;

  private String compile(String body) throws Exception {
    Path src = dir.resolve("src/user");
    Files.createDirectories(src.resolve("u"));
    Files.writeString(src.resolve("module-info.java"), "module user { requires returnn.onnx.core; }\n");
    Files.writeString(src.resolve("u/U.java"), "package u;\n" + body);
    // core's own classes (with module-info.class) and its dependencies' jars; test and JUnit entries left out.
    List<String> path = new ArrayList<>();
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (e.endsWith("classes") && !e.endsWith("test-classes") && Files.exists(Path.of(e, "module-info.class"))) path.add(e);
      else if (e.endsWith(".jar") && !e.contains("junit") && !e.contains("opentest4j") && !e.contains("apiguardian")) path.add(e);
    }
    ByteArrayOutputStream diag = new ByteArrayOutputStream();
    int rc = ToolProvider.getSystemJavaCompiler().run(null, diag, diag, "--module-path", String.join(File.pathSeparator, path),
        "-d", dir.resolve("out").toString(), src.resolve("module-info.java").toString(), src.resolve("u/U.java").toString());
    return rc + "\n" + diag.toString(StandardCharsets.UTF_8);
  }

  @Test
  void apiAndSpiAreExportedInternalsAreNot() throws Exception {
    String ok = compile("""
        public class U {
          static Object f(java.nio.file.Path p) {
            returnn.onnx.convert.OpHandler h = null; returnn.onnx.rewrite.Rule r = null; returnn.onnx.ir.Graph g = null;
            return ReturnnOnnxHolder.c(p);
          }
        }
        class ReturnnOnnxHolder { static Object c(java.nio.file.Path p) { return returnn.onnx.api.ReturnnOnnx.convert(p); } }
        """);
    assertTrue(ok.startsWith("0\n"), ok);

    String internal = compile("public class U { returnn.onnx.tf.TfImporter t; }\n");
    assertNotEquals("0", internal.substring(0, internal.indexOf('\n')), internal);
    assertTrue(internal.contains("package returnn.onnx.tf is not visible"), internal);
    assertEquals(-1, ok.indexOf("not visible"), ok);
  }
}
