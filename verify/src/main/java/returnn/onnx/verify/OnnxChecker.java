package returnn.onnx.verify;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The official ONNX checker ({@code onnx.checker.check_model(full_check=True)}, strict shape inference included),
 * run through Debian's {@code python3-onnx} (installed by {@code scripts/ensure-tools}). Debian ships onnx 1.12,
 * which knows ai.onnx opsets up to 17 and IR version 8, so models of higher opsets are checked by loading them in
 * ONNX Runtime instead.
 */
public final class OnnxChecker {
  public static final String PYTHON = "/usr/bin/python3";
  public static final int MAX_OPSET = 17;

  private static final String SCRIPT = "import onnx, sys\n"
      + "m = onnx.load(sys.argv[1])\n"
      + "onnx.checker.check_model(m, full_check=True)\n"
      + "print('ok')\n";

  private OnnxChecker() {}

  /** Null when the model passes; otherwise the checker's message. */
  public static String check(Path model) {
    if (!Files.isExecutable(Path.of(PYTHON))) throw new IllegalStateException(PYTHON + " not found; run scripts/ensure-tools");
    try {
      Process p = new ProcessBuilder(PYTHON, "-c", SCRIPT, model.toString()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return "checker timed out";
      }
      if (out.contains("No module named 'onnx'")) throw new IllegalStateException("python3-onnx is not installed; run scripts/ensure-tools");
      return p.exitValue() == 0 && out.endsWith("ok") ? null : out;
    } catch (IOException e) {
      throw new IllegalStateException("cannot run the ONNX checker: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
