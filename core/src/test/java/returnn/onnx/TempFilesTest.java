package returnn.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Value;
import returnn.onnx.io.OnnxWriter;

/** Temporaries of outputs: gone after SIGTERM, stale ones of dead processes removed, umask permissions. */
class TempFilesTest {
  @TempDir
  Path dir;

  /** Run in a child JVM: creates a temporary in args[0], says so, and waits to be killed. */
  public static void main(String[] args) throws Exception {
    Path t = TempFiles.create(Path.of(args[0]), ".tmp");
    System.out.println("ready " + t);
    System.out.flush();
    Thread.sleep(60_000);
  }

  private static List<String> names(Path d) throws Exception {
    try (Stream<Path> s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void sigtermRemovesTheTemporariesOfTheDyingProcess() throws Exception {
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), TempFilesTest.class.getName(), dir.toString()).redirectErrorStream(true).start();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line = r.readLine();
      assertTrue(line != null && line.startsWith("ready "), String.valueOf(line));
      assertEquals(1, names(dir).size(), "the child's temporary exists: " + names(dir));
      p.destroy(); // SIGTERM
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    }
    assertEquals(List.of(), names(dir), "the shutdown hook deleted it");
  }

  @Test
  void staleTemporariesOfDeadProcessesAreRemovedOnTheNextWrite() throws Exception {
    Process dead = new ProcessBuilder("true").start();
    dead.waitFor();
    long deadPid = dead.pid();
    Path stale = Files.writeString(dir.resolve(TempFiles.PREFIX + deadPid + "-abc.tmp"), "x".repeat(1000));
    Path staleDir = Files.createDirectories(dir.resolve(TempFiles.PREFIX + deadPid + "-def.tmp/variables"));
    long livePid = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(1L);
    Path alive = Files.writeString(dir.resolve(TempFiles.PREFIX + livePid + "-ghi.tmp"), "in use");
    Path unrelated = Files.writeString(dir.resolve(".returnn-onnx-notapid.tmp"), "keep");

    Graph g = new Graph("g");
    Value x = g.addInput("x", DType.FLOAT, Shape.of(2));
    g.addOutput(x);
    Path out = dir.resolve("model.onnx");
    OnnxWriter.write(g, 17, Map.of(), out);

    assertFalse(Files.exists(stale), "a dead process's temporary is removed");
    assertFalse(Files.exists(staleDir.getParent()), "and its staging folder");
    assertTrue(Files.exists(alive), "a running process's temporary is kept");
    assertTrue(Files.exists(unrelated));
    assertEquals(List.of(alive.getFileName().toString(), unrelated.getFileName().toString(), "model.onnx"), names(dir));

    // Permissions follow the umask, like any file the user creates (not 0600).
    Path plain = Files.createFile(dir.resolve("plain"));
    assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(out));
  }
}
