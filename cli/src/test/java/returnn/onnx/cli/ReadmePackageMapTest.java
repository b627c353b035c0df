package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The README's package map against the tree: every main-code package of the Maven modules is in the table, and every
 * package the table names exists. Table cells name packages without {@code returnn.onnx.}; {@code (root)} is
 * {@code returnn.onnx}; {@code `a.b` / `.c`} is {@code a.b} and {@code a.c}.
 */
class ReadmePackageMapTest {
  static Set<String> mapped(String readme) {
    int start = readme.indexOf("\nPackages (");
    assertTrue(start >= 0, "README has no package map ('Packages (...')");
    Set<String> names = new TreeSet<>();
    for (String line : readme.substring(start).split("\n")) {
      if (!line.startsWith("| ")) {
        if (!names.isEmpty()) break;
        continue;
      }
      String cell = line.substring(2, line.indexOf(" |", 2));
      if (cell.equals("package") || cell.startsWith("---")) continue;
      if (cell.equals("(root)")) {
        names.add("returnn.onnx");
        continue;
      }
      String last = null;
      Matcher m = Pattern.compile("`([a-z.]+)`").matcher(cell);
      while (m.find()) {
        String n = m.group(1);
        if (n.startsWith(".")) n = last.substring(0, last.lastIndexOf('.')) + n;
        names.add("returnn.onnx." + n);
        last = n.contains(".") ? n : n + ".x";
      }
    }
    return names;
  }

  static Set<String> packages(Path root) throws Exception {
    Set<String> names = new TreeSet<>();
    List<Path> sources = new ArrayList<>();
    for (String module : List.of("core", "reference", "runtime", "fixtures", "verify", "bench", "cli")) {
      sources.add(root.resolve(module).resolve("src/main/java"));
    }
    for (Path src : sources) {
      try (Stream<Path> files = Files.walk(src)) {
        files.filter(f -> f.toString().endsWith(".java") && !f.getFileName().toString().equals("module-info.java"))
            .forEach(f -> names.add(src.relativize(f.getParent()).toString().replace('/', '.')));
      }
    }
    return names;
  }

  @Test
  void packageMapMatchesTheTree() throws Exception {
    Path root = ReadmeJavaExampleTest.root();
    Set<String> inReadme = mapped(Files.readString(root.resolve("README.md")));
    Set<String> inTree = packages(root);
    Set<String> missing = new TreeSet<>(inTree);
    missing.removeAll(inReadme);
    Set<String> stale = new TreeSet<>(inReadme);
    stale.removeAll(inTree);
    assertEquals(Set.of(), missing, "packages the README's package map does not list");
    assertEquals(Set.of(), stale, "packages the README's package map lists that do not exist");
  }

  @Test
  void cellsExpand() {
    String readme = "x\nPackages (a):\n\n| package | holds |\n|---|---|\n| (root) | r |\n| `rewrite.lstm` / `.attention` | f |\n"
        + "| `fixtures`, `fixtures.loops` / `.lstm` | g |\n\nafter\n| `not.this` | x |\n";
    assertEquals(Set.of("returnn.onnx", "returnn.onnx.rewrite.lstm", "returnn.onnx.rewrite.attention", "returnn.onnx.fixtures",
        "returnn.onnx.fixtures.loops", "returnn.onnx.fixtures.lstm"), mapped(readme));
  }
}
