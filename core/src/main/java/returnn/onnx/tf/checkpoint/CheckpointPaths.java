package returnn.onnx.tf.checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import returnn.onnx.ConversionException;

/** File names of a V2 checkpoint (tensorflow/core/util/tensor_bundle/naming.cc) and resolving what a user gave. */
public final class CheckpointPaths {
  private static final Pattern DATA_SUFFIX = Pattern.compile("\\.data-\\d{5}-of-\\d{5}$");
  /** A line of the text-format CheckpointState proto in a directory's {@code checkpoint} file. */
  private static final Pattern STATE_LINE = Pattern.compile("^\\s*model_checkpoint_path\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");

  private CheckpointPaths() {}

  public static Path indexFile(Path prefix) {
    return sibling(prefix, ".index");
  }

  /** {@code <prefix>.data-00000-of-00001}: shard numbers are zero-padded to five digits. */
  public static Path dataFile(Path prefix, int shard, int numShards) {
    return sibling(prefix, String.format(".data-%05d-of-%05d", shard, numShards));
  }

  /**
   * The checkpoint prefix for a path a user gave: the prefix itself, its {@code .index}, {@code .data-*} or
   * {@code .meta} file, or a directory whose {@code checkpoint} file names the latest checkpoint.
   */
  public static Path resolvePrefix(Path path) {
    if (Files.isDirectory(path)) return fromStateFile(path);
    String name = String.valueOf(path.getFileName());
    if (name.endsWith(".index")) return path.resolveSibling(name.substring(0, name.length() - ".index".length()));
    Matcher data = DATA_SUFFIX.matcher(name);
    if (data.find()) return path.resolveSibling(name.substring(0, data.start()));
    if (name.endsWith(".meta") && !Files.exists(indexFile(path))) {
      return path.resolveSibling(name.substring(0, name.length() - ".meta".length()));
    }
    return path;
  }

  /** tf.train.latest_checkpoint: the state file's model_checkpoint_path, relative to the directory. */
  private static Path fromStateFile(Path dir) {
    Path state = dir.resolve("checkpoint");
    if (!Files.isRegularFile(state)) {
      throw ConversionException.atFile(dir, "directory has no 'checkpoint' file naming a checkpoint; give the checkpoint prefix");
    }
    try {
      for (String line : Files.readAllLines(state)) {
        Matcher m = STATE_LINE.matcher(line);
        if (m.find()) return dir.resolve(m.group(1).replaceAll("\\\\(.)", "$1"));
      }
    } catch (IOException e) {
      throw ConversionException.atFile(state, "cannot read checkpoint state file: " + e.getMessage());
    }
    throw ConversionException.atFile(state, "no model_checkpoint_path line in checkpoint state file");
  }

  private static Path sibling(Path prefix, String suffix) {
    return prefix.resolveSibling(prefix.getFileName() + suffix);
  }
}
