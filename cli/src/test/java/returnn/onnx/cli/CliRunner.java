package returnn.onnx.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the CLI in-process and captures its output. */
final class CliRunner {
  record Run(int exit, String out, String err) {}

  private CliRunner() {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    java.io.PrintStream oldOut = System.out;
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    System.setOut(new java.io.PrintStream(captured, true));
    try {
      int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
      return new Run(code, captured + out.toString(), err.toString());
    } finally {
      System.setOut(oldOut);
    }
  }
}
