package returnn.onnx.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import returnn.onnx.ConversionException;
import returnn.onnx.onnx.Version;

/** {@code returnn-onnx}: convert RETURNN TensorFlow graphs and checkpoints to ONNX, verify, inspect. */
@Command(name = "returnn-onnx", mixinStandardHelpOptions = true, version = "returnn-onnx " + Version.VERSION,
    description = "Convert RETURNN TensorFlow models (graph + V2 checkpoint) to ONNX, checked against TensorFlow.",
    subcommands = {ConvertCommand.class, InspectCommand.class, VerifyCommand.class, DemoCommand.class,
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

  /** Runs the CLI; errors become one clear message and exit code 1 (2 for usage errors). */
  public static int execute(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(out);
    cl.setErr(err);
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      Throwable e = ex;
      if (e instanceof ConversionException || e instanceof IllegalArgumentException || e instanceof IllegalStateException) {
        err.println("error: " + e.getMessage());
      } else {
        err.println("error: " + e);
        e.printStackTrace(err);
      }
      err.flush();
      return 1;
    });
    return cl.execute(args);
  }
}
