package returnn.onnx;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The one place where paths that come from outside are checked before a file is opened or written.
 *
 * <ul>
 *   <li>{@link #inside}: a relative name taken from a file (a TF node name that becomes an output file of
 *       {@code run}, an ONNX external-data {@code location}) must stay inside its folder: no absolute path, no
 *       {@code ..}, and no symbolic link on the way below the folder.
 *   <li>{@link #checkOutput}: what every command that writes checks for {@code --output}: the path must not be a
 *       symbolic link, a directory or a special file (character or block device, FIFO, socket), and must not be any of
 *       the command's own inputs (same file, also through hard links). A symbolic link is refused rather than
 *       replaced or followed: replacing would surprise whoever made the link, following would write where the link
 *       points.
 * </ul>
 * Failures are {@link ConversionException}s naming the path; nothing has been written when they are thrown.
 */
public final class SafePaths {
  private SafePaths() {}

  /**
   * {@code dir/relative}, refused unless it stays inside {@code dir}. {@code what} names the source of the name in
   * the error, e.g. "output 'x'" or "external data of tensor 'W'".
   */
  public static Path inside(Path dir, String relative, String what) {
    if (relative.isEmpty() || relative.indexOf('\0') >= 0) {
      throw new ConversionException(what + ": '" + relative + "' is not a usable file name");
    }
    Path rel;
    try {
      rel = dir.getFileSystem().getPath(relative);
    } catch (java.nio.file.InvalidPathException e) {
      throw new ConversionException(what + ": '" + relative + "' is not a usable file name");
    }
    if (rel.isAbsolute() || relative.startsWith("/") || relative.startsWith("\\")) {
      throw new ConversionException(what + ": '" + relative + "' is an absolute path; it must stay inside " + dir);
    }
    for (Path part : rel) {
      String s = part.toString();
      if (s.equals("..") || s.equals(".")) {
        throw new ConversionException(what + ": '" + relative + "' has a '" + s + "' component; it must stay inside " + dir);
      }
    }
    Path out = dir.resolve(rel);
    // A symbolic link below dir (an existing one, or one a previous output made) could lead anywhere.
    Path p = dir;
    for (Path part : rel) {
      p = p.resolve(part);
      if (Files.isSymbolicLink(p)) {
        throw new ConversionException(what + ": '" + relative + "' passes through the symbolic link " + p
            + "; it must stay inside " + dir);
      }
      if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) break;
    }
    return out;
  }

  /**
   * Refuses {@code out} as a file to write when it is a symbolic link, a directory, a special file, or one of
   * {@code inputs} (files or directories whose files are inputs). Parent directories may be missing.
   */
  public static void checkOutput(Path out, Collection<Path> inputs) {
    checkTarget(out);
    for (Path in : inputFiles(inputs)) {
      if (sameFile(out, in)) {
        throw ConversionException.atFile(out, "is one of the command's inputs (" + in + "); refusing to overwrite it");
      }
    }
  }

  /** The part of {@link #checkOutput} that needs no inputs: called by the writers right before they move a file into place. */
  public static void checkTarget(Path out) {
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(out, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (IOException e) {
      return; // does not exist (or cannot be looked at: then writing fails with its own error)
    }
    if (a.isSymbolicLink()) {
      throw ConversionException.atFile(out, "is a symbolic link; refusing to write through it or replace it (give the real path)");
    }
    if (a.isDirectory()) throw ConversionException.atFile(out, "is a directory; give a file name");
    if (a.isOther() || !a.isRegularFile()) {
      throw ConversionException.atFile(out, "is a special file (device, FIFO or socket), not a regular file; refusing to replace it");
    }
  }

  /** The files of a V2 checkpoint prefix: {@code prefix.index} and {@code prefix.data-*}, as far as they exist. */
  public static List<Path> checkpointFiles(Path prefix) {
    List<Path> r = new ArrayList<>();
    if (prefix == null) return r;
    Path dir = prefix.toAbsolutePath().getParent();
    String base = prefix.getFileName().toString();
    r.add(prefix.resolveSibling(base + ".index"));
    if (dir != null && Files.isDirectory(dir)) {
      try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, glob(base) + ".data-*")) {
        for (Path p : s) r.add(p);
      } catch (IOException | RuntimeException ignored) {
        // nothing more to protect than what exists
      }
    }
    return r;
  }

  private static String glob(String s) {
    return s.replaceAll("([\\\\*?\\[\\]{}])", "\\\\$1");
  }

  /** Input paths, with directories (a SavedModel) expanded to the files below them (a few levels deep). */
  private static List<Path> inputFiles(Collection<Path> inputs) {
    List<Path> r = new ArrayList<>();
    for (Path in : inputs) {
      if (in == null) continue;
      r.add(in);
      if (Files.isDirectory(in)) {
        try (var s = Files.walk(in, 4)) {
          s.filter(Files::isRegularFile).forEach(r::add);
        } catch (IOException | RuntimeException ignored) {
          // unreadable directories cannot be overwritten through us either
        }
      }
    }
    return r;
  }

  private static boolean sameFile(Path a, Path b) {
    try {
      if (Files.exists(a) && Files.exists(b)) return Files.isSameFile(a, b);
      return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    } catch (IOException e) {
      return false;
    }
  }
}
