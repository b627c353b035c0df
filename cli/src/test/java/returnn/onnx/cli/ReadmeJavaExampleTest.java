package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.runtime.OnnxSession;

/**
 * The Java example of the README's "Use from Java" section, taken from the README as it is, compiled with
 * javax.tools against the modules' classes and run on the bundled example model: it cannot rot.
 */
class ReadmeJavaExampleTest {
  @TempDir
  Path dir;

  /** The repository root: the folder with README.md and examples/ at or above the module the tests run in. */
  static Path root() {
    Path d = Path.of("").toAbsolutePath();
    while (d != null && !(Files.isRegularFile(d.resolve("README.md")) && Files.isDirectory(d.resolve("examples")))) d = d.getParent();
    assertNotNull(d, "no README.md with examples/ above " + Path.of("").toAbsolutePath());
    return d;
  }

  /** The first ```java block after the heading "## Use from Java". */
  static String example(String readme) {
    int section = readme.indexOf("\n## Use from Java\n");
    assertTrue(section >= 0, "README has no '## Use from Java' section");
    Matcher m = Pattern.compile("```java\n(.*?)```", Pattern.DOTALL).matcher(readme);
    assertTrue(m.find(section), "no ```java block in 'Use from Java'");
    return m.group(1);
  }

  @Test
  void readmeExampleCompilesAndRunsOnTheBundledModel() throws Exception {
    Path root = root();
    String code = example(Files.readString(root.resolve("README.md")));
    Matcher cls = Pattern.compile("public class (\\w+)").matcher(code);
    assertTrue(cls.find(), "the example declares no public class");
    Path src = dir.resolve("src/" + cls.group(1) + ".java");
    Files.createDirectories(src.getParent());
    Files.writeString(src, code);
    Path classes = Files.createDirectories(dir.resolve("classes"));
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    ByteArrayOutputStream diag = new ByteArrayOutputStream();
    int rc = javac.run(null, diag, diag, "-classpath", System.getProperty("java.class.path"), "-d", classes.toString(),
        "-Xlint:all", "-Werror", src.toString());
    assertEquals(0, rc, "the README's example does not compile:\n" + diag.toString(StandardCharsets.UTF_8));

    Path model = dir.resolve("model.onnx");
    String out = runMain(classes, cls.group(1), root.resolve("examples/returnn-transformer-block").toString(), model.toString());
    assertTrue(out.contains("com.microsoft.MultiHeadAttention"), out);
    assertTrue(out.contains("int8 dynamic, per-tensor"), out);
    assertTrue(out.contains("output [2, 5, 16]"), out);
    // What it wrote is the model it ran: loads, and is quantized.
    try (OnnxSession s = OnnxSession.open(model, OnnxSession.Options.defaults())) {
      assertTrue(s.metadata().get("returnn_onnx.quantization").startsWith("int8 dynamic"), s.metadata().toString());
    }
  }

  private static String runMain(Path classes, String cls, String... args) throws Exception {
    PrintStream old = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try (URLClassLoader l = new URLClassLoader(new URL[] {classes.toUri().toURL()}, ReadmeJavaExampleTest.class.getClassLoader());
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
      System.setOut(ps);
      l.loadClass(cls).getMethod("main", String[].class).invoke(null, (Object) args);
    } finally {
      System.setOut(old);
    }
    return buf.toString(StandardCharsets.UTF_8);
  }

  @Test
  void exampleExtractionFindsTheCode() throws IOException {
    String code = example(Files.readString(root().resolve("README.md")));
    assertTrue(code.contains("ReturnnOnnx.convert("), code);
    assertTrue(List.of(code.split("\n")).stream().anyMatch(s -> s.startsWith("import returnn.onnx.api.")), code);
  }
}
