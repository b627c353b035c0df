package returnn.onnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The progress bar of bench/score/stream: drawn where asked, nothing at all off a terminal (as in every test run). */
class ProgressTest {
  @Test
  void offATerminalNothingIsDrawn() {
    PrintStream err = System.err;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try (Progress p = Progress.start("score", 10)) {
      assertFalse(p.shown(), "tests run without a console");
      p.step();
      p.update(5, 10);
    } finally {
      System.setErr(err);
    }
    assertEquals("", buf.toString(StandardCharsets.UTF_8));
  }

  @Test
  void onATerminalTheBarShowsTaskAndCount() throws InterruptedException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try (Progress p = Progress.to(new PrintStream(buf, true, StandardCharsets.UTF_8), "score", 4)) {
      assertTrue(p.shown());
      p.update(3, 4);
      Thread.sleep(500);
    }
    String s = buf.toString(StandardCharsets.UTF_8);
    assertTrue(s.contains("score") && s.contains("3/4"), s);
  }
}
