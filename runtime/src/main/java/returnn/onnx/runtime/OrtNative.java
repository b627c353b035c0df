package returnn.onnx.runtime;

import ai.onnxruntime.OrtEnvironment;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * Loads ONNX Runtime's native libraries so that nothing is left in /tmp. ORT's Java loader extracts them into a new
 * {@code /tmp/onnxruntime-java*} folder and marks the folder for deletion at exit before the files in it, so the
 * JVM's exit hook fails to delete the (then still full) folder: every process left an empty folder behind. Here the
 * libraries are extracted into a folder of our own, handed to ORT through {@code onnxruntime.native.path}, and
 * deleted as soon as they are loaded (a loaded library does not need its file); ORT's own folder then stays empty
 * and its exit hook removes it. With {@code onnxruntime.native.path} already set, or on a platform whose libraries
 * are not found, ORT loads as usual.
 */
final class OrtNative {
  private static final String PROPERTY = "onnxruntime.native.path";
  private static final List<String> LIBS = List.of("libonnxruntime.so", "libonnxruntime4j_jni.so");
  private static boolean loaded;

  private OrtNative() {}

  static synchronized OrtEnvironment environment() {
    if (!loaded) {
      loaded = true;
      load();
    }
    return OrtEnvironment.getEnvironment();
  }

  private static void load() {
    if (System.getProperty(PROPERTY) != null) return;
    String arch = System.getProperty("os.arch", "");
    String platform = System.getProperty("os.name", "").toLowerCase().startsWith("linux")
        ? (arch.equals("amd64") || arch.equals("x86_64") ? "linux-x64" : arch.equals("aarch64") ? "linux-aarch64" : null)
        : null;
    if (platform == null) return;
    Path dir = null;
    try {
      dir = Files.createTempDirectory("returnn-onnx-ort");
      for (String lib : LIBS) {
        try (InputStream in = OrtEnvironment.class.getResourceAsStream("/ai/onnxruntime/native/" + platform + "/" + lib)) {
          if (in == null) return; // another packaging: let ORT do it
          Files.copy(in, dir.resolve(lib), StandardCopyOption.REPLACE_EXISTING);
        }
      }
      System.setProperty(PROPERTY, dir.toString());
      try {
        OrtEnvironment.getEnvironment();
      } finally {
        System.clearProperty(PROPERTY);
      }
    } catch (IOException e) {
      // fall back to ORT's own loading
    } finally {
      if (dir != null) {
        for (String lib : LIBS) {
          try {
            Files.deleteIfExists(dir.resolve(lib));
          } catch (IOException ignored) {
            // best effort
          }
        }
        try {
          Files.deleteIfExists(dir);
        } catch (IOException ignored) {
          // best effort
        }
      }
    }
  }
}
