package returnn.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Exceptions stepped over in shape inference and folding: thrown in strict mode (the tests), else shown in the report. */
class InternalErrorsTest {
  @Test
  void strictModeThrowsAndTheReportShowsThemOtherwise() {
    assertTrue(InternalErrors.strict(), "the test suite runs strict (pom.xml: returnn.onnx.strict)");
    assertThrows(IllegalStateException.class, () -> InternalErrors.record("shape inference of X 'n'", new NullPointerException("bug")));
    String old = System.getProperty(InternalErrors.STRICT_PROPERTY);
    System.setProperty(InternalErrors.STRICT_PROPERTY, "false");
    try {
      List<String> seen = InternalErrors.start();
      InternalErrors.record("shape inference of X 'n'", new NullPointerException("bug"));
      InternalErrors.stop();
      assertEquals(1, seen.size());
      ConversionReport r = new ConversionReport();
      r.internalErrors.addAll(seen);
      assertTrue(r.format().contains("warning: 1 internal error(s) in shape inference or constant folding"), r.format());
      assertFalse(r.format().contains("NullPointerException"), "listed only with --explain-fusions");
      assertTrue(r.format(true).contains("shape inference of X 'n': java.lang.NullPointerException: bug"), r.format(true));
    } finally {
      System.setProperty(InternalErrors.STRICT_PROPERTY, old);
    }
  }
}
