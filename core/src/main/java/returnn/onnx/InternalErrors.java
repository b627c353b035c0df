package returnn.onnx;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Exceptions that shape inference and constant folding catch and step over (a shape is an aid: without it a rule
 * declines, the model is still right). They used to vanish; a bug there silently turned off a fusion. Now each is
 * recorded: the conversion report counts them (and {@code --explain-fusions} lists them), and with the system
 * property {@code returnn.onnx.strict=true} (set for the test suite) each one is thrown instead, so that a test fails.
 */
public final class InternalErrors {
  public static final String STRICT_PROPERTY = "returnn.onnx.strict";
  private static final int MAX_KEPT = 200;
  private static final ThreadLocal<List<String>> CURRENT = new ThreadLocal<>();
  private static final AtomicLong TOTAL = new AtomicLong();

  private InternalErrors() {}

  public static boolean strict() {
    return Boolean.getBoolean(STRICT_PROPERTY);
  }

  /** Records (or, strict, throws) an exception that {@code where} steps over. */
  public static void record(String where, RuntimeException e) {
    TOTAL.incrementAndGet();
    if (strict()) throw new IllegalStateException("internal error stepped over in " + where + ": " + e, e);
    List<String> l = CURRENT.get();
    if (l != null && l.size() < MAX_KEPT) l.add(where + ": " + e);
  }

  /** Starts collecting on this thread; returns the list the errors go to (until {@link #stop}). */
  public static List<String> start() {
    List<String> l = new ArrayList<>();
    CURRENT.set(l);
    return l;
  }

  public static void stop() {
    CURRENT.remove();
  }

  /** All recorded in this JVM, collected or not. */
  public static long total() {
    return TOTAL.get();
  }
}
