package returnn.onnx.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import returnn.onnx.ConversionException;
import returnn.onnx.io.Version;

/** {@code returnn-onnx}: convert RETURNN TensorFlow graphs and checkpoints to ONNX, verify, inspect. */
@Command(name = "returnn-onnx", mixinStandardHelpOptions = true, version = "returnn-onnx " + Version.VERSION,
    description = "Convert RETURNN TensorFlow models (graph + V2 checkpoint) to ONNX, checked against TensorFlow.",
    subcommands = {ConvertCommand.class, InspectCommand.class, VerifyCommand.class, DemoCommand.class, DecodeCommand.class,
        BenchCommand.class, SavedModelCommand.class, RunCommand.class, ScoreCommand.class, StreamCommand.class,
        QuantizeCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
  }

  /** Stack of the thread commands run in: deep but legitimate recursion (large graphs) must not overflow. */
  static final long STACK_BYTES = 256L << 20;

  /**
   * Runs the CLI; errors become one clear message and exit code 1 (2 for usage errors). The command runs in a thread
   * with a large stack; any error, even an unexpected one, ends as one {@code error:} line without a stack trace
   * (set {@code RETURNN_ONNX_DEBUG=1} to get the trace of an unexpected one).
   */
  public static int execute(String[] args, PrintWriter out, PrintWriter err) {
    int[] code = {1};
    Thread t = new Thread(null, () -> {
      try {
        code[0] = executeHere(args, out, err);
      } catch (Throwable e) {
        code[0] = report(e, err);
      }
    }, "returnn-onnx", STACK_BYTES);
    t.start();
    while (true) {
      try {
        t.join();
        break;
      } catch (InterruptedException e) {
        t.interrupt();
      }
    }
    return code[0];
  }

  private static int report(Throwable e, PrintWriter err) {
    if (e instanceof picocli.CommandLine.ExecutionException && e.getCause() != null) e = e.getCause();
    if (e instanceof ConversionException || e instanceof IllegalArgumentException || e instanceof IllegalStateException) {
      err.println("error: " + e.getMessage());
    } else if (e instanceof StackOverflowError) {
      err.println("error: the input is nested too deeply to process (stack overflow)");
    } else if (e instanceof OutOfMemoryError) {
      err.println("error: out of memory (" + e.getMessage() + "); the input is too large for the Java heap (-Xmx)");
    } else {
      err.println("error: " + oneLine(String.valueOf(e)) + " (unexpected; RETURNN_ONNX_DEBUG=1 shows where)");
      if (System.getenv("RETURNN_ONNX_DEBUG") != null) e.printStackTrace(err);
    }
    err.flush();
    return 1;
  }

  private static String oneLine(String s) {
    return s == null ? "(no message)" : s.replace('\n', ' ').replace('\r', ' ');
  }

  private static int executeHere(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(out);
    cl.setErr(err);
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> report(ex, err));
    return cl.execute(args);
  }
}
