package returnn.onnx.cli;

import java.io.PrintStream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar on standard error for long work ({@code bench}, {@code score}, {@code stream}), drawn by
 * me.tongfei:progressbar, only on a terminal: when the process has no console (output piped or redirected, tests,
 * CI) or {@code RETURNN_ONNX_PROGRESS=0}, it does nothing, so the commands' output stays what scripts read.
 */
final class Progress implements AutoCloseable {
  private final ProgressBar bar;

  private Progress(ProgressBar bar) {
    this.bar = bar;
  }

  /** A bar for {@code task} with {@code total} steps (0: not known yet), or a no-op off a terminal. */
  static Progress start(String task, long total) {
    boolean on = System.console() != null && !"0".equals(System.getenv("RETURNN_ONNX_PROGRESS"));
    return on ? to(System.err, task, total) : new Progress(null);
  }

  /** A bar drawn to {@code out} whatever it is (for tests). */
  static Progress to(PrintStream out, String task, long total) {
    return new Progress(new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
        .setUpdateIntervalMillis(200).clearDisplayOnFinish().setConsumer(new ConsoleProgressBarConsumer(out)).build());
  }

  boolean shown() {
    return bar != null;
  }

  void step() {
    if (bar != null) bar.step();
  }

  /** {@code done} of {@code total} steps (the total may grow as the work learns of more). */
  void update(long done, long total) {
    if (bar == null) return;
    if (total != bar.getMax()) bar.maxHint(total);
    bar.stepTo(done);
  }

  @Override
  public void close() {
    if (bar != null) bar.close();
  }
}
