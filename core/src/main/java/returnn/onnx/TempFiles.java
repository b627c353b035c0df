package returnn.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The temporaries outputs are written to before they are moved into place: {@code .returnn-onnx-PID-RANDOM.tmp} beside
 * the output (so the move is a rename on one file system).
 *
 * <ul>
 *   <li>Created with the default permissions, i.e. the umask applies (as for any file the user writes), not 0600.
 *   <li>Deleted on SIGTERM/SIGINT (and any normal exit) by a shutdown hook, if not yet moved into place.
 *   <li>Left-overs of a process that no longer runs ({@code kill -9}, power loss) are removed the next time a file is
 *       written into the same folder; the PID in the name says whose a temporary is.
 *   <li>{@link #commit} forces the data to disk before the rename, so that a crash after it cannot leave an empty or
 *       partial file under the final name.
 * </ul>
 */
public final class TempFiles {
  public static final String PREFIX = ".returnn-onnx-";
  /** {@code .returnn-onnx-PID-...} (files and SavedModel staging folders). */
  private static final Pattern OURS = Pattern.compile("\\.returnn-onnx-(\\d+)-.*");
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Set<Path> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(TempFiles::deleteLive, "returnn-onnx-temp-cleanup"));
  }

  private TempFiles() {}

  private static String name(String suffix) {
    return PREFIX + ProcessHandle.current().pid() + "-" + Long.toUnsignedString(RANDOM.nextLong(), 36) + suffix;
  }

  /** A new empty temporary file in {@code dir} (umask permissions), registered for deletion at exit. */
  public static Path create(Path dir, String suffix) throws IOException {
    cleanStale(dir);
    while (true) {
      Path p = dir.resolve(name(suffix));
      try {
        Files.createFile(p);
        LIVE.add(p);
        return p;
      } catch (FileAlreadyExistsException e) {
        // another random name
      }
    }
  }

  /** A new temporary folder in {@code dir}, deleted with its contents at exit unless committed. */
  public static Path createDirectory(Path dir) throws IOException {
    cleanStale(dir);
    while (true) {
      Path p = dir.resolve(name(".tmp"));
      try {
        Files.createDirectory(p);
        LIVE.add(p);
        return p;
      } catch (FileAlreadyExistsException e) {
        // another random name
      }
    }
  }

  /** Writes {@code data} to the temporary {@code tmp}, forced to disk. */
  public static void write(Path tmp, ByteBuffer data) throws IOException {
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      while (data.hasRemaining()) ch.write(data);
      ch.force(true);
    }
  }

  /** Forces a written temporary to disk (contents and size). */
  public static void sync(Path tmp) throws IOException {
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
  }

  /**
   * Moves a temporary file into place atomically (after forcing it to disk), refusing targets {@link SafePaths} refuses,
   * then forces the folder entry too (best effort).
   */
  public static void commit(Path tmp, Path target) throws IOException {
    if (Files.isRegularFile(tmp, LinkOption.NOFOLLOW_LINKS)) sync(tmp);
    SafePaths.checkTarget(target);
    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    LIVE.remove(tmp);
    syncDirectory(target.toAbsolutePath().getParent());
  }

  /** Deletes a temporary (file or folder) that was not committed. Never throws. */
  public static void discard(Path tmp) {
    if (tmp == null) return;
    deleteRecursively(tmp);
    LIVE.remove(tmp);
  }

  /** Marks a temporary as moved (committed by other means, e.g. a folder rename). */
  public static void committed(Path tmp) {
    LIVE.remove(tmp);
  }

  static void syncDirectory(Path dir) {
    if (dir == null) return;
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | RuntimeException ignored) {
      // not every file system allows opening a folder; the rename itself is still atomic
    }
  }

  /** Removes temporaries in {@code dir} whose owner process is gone. Never throws. */
  public static int cleanStale(Path dir) {
    int removed = 0;
    if (dir == null || !Files.isDirectory(dir)) return 0;
    long self = ProcessHandle.current().pid();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, PREFIX + "*")) {
      for (Path p : s) {
        Matcher m = OURS.matcher(p.getFileName().toString());
        if (!m.matches()) continue;
        long pid;
        try {
          pid = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
          continue;
        }
        if (pid == self || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) continue;
        deleteRecursively(p);
        removed++;
      }
    } catch (IOException | RuntimeException ignored) {
      // best effort
    }
    return removed;
  }

  private static void deleteLive() {
    for (Path p : LIVE) deleteRecursively(p);
    LIVE.clear();
  }

  private static void deleteRecursively(Path p) {
    try {
      if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(p)) {
          for (Path c : s) deleteRecursively(c);
        }
      }
      Files.deleteIfExists(p);
    } catch (IOException | RuntimeException ignored) {
      // best effort: the name says what it is
    }
  }
}
