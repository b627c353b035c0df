package returnn.onnx.cli;

import java.nio.file.Path;

/** Where the bundled examples live: the launcher passes the repository root as {@code returnn.onnx.home}. */
final class Examples {
  private Examples() {}

  static Path home() {
    String h = System.getProperty("returnn.onnx.home");
    return Path.of(h != null ? h : ".").toAbsolutePath().normalize();
  }
}
