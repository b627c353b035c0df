package returnn.onnx.stepbystep;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.DataType;
import returnn.onnx.ConversionException;

/** The info file of compile_tf_graph.py --rec_step_by_step_output_file: what is read, what is refused. */
class StepByStepInfoTest {
  @TempDir
  Path dir;

  static final String VARS = "\"state_vars\": {"
      + "\"i\": {\"dtype\": \"int32\", \"shape\": [], \"var_op\": \"IO/i\"},"
      + "\"end_flag\": {\"dtype\": \"bool\", \"shape\": [null], \"var_op\": \"IO/end_flag\"},"
      + "\"state/s/c\": {\"dtype\": \"float32\", \"shape\": [null, 24], \"var_op\": \"IO/state/s/c\"},"
      + "\"stochastic_var_choice_output\": {\"dtype\": \"int32\", \"shape\": [null], \"var_op\": \"IO/c\"},"
      + "\"stochastic_var_scores_output\": {\"dtype\": \"float32\", \"shape\": [null, 10], \"var_op\": \"IO/s\"}}";
  static final String STOCH = "\"stochastic_vars\": {\"output\": {\"calc_scores_op\": \"calc\", "
      + "\"choice_state_var\": \"stochastic_var_choice_output\", \"scores_state_var\": \"stochastic_var_scores_output\"}}";

  Path write(String json) throws IOException {
    Path p = dir.resolve("info.json");
    Files.writeString(p, json);
    return p;
  }

  @Test
  void readsTheStatesAndCarriesThoseWithABatchAxis() throws IOException {
    StepByStep.Info info = StepByStep.readInfo(write("{\"init_op\": \"init\", " + VARS + ", \"stochastic_var_order\": [\"output\"], " + STOCH + "}"));
    assertEquals("init", info.initOp());
    assertEquals("calc", info.calcScoresOp());
    assertEquals(DataType.DT_BOOL, info.stateVars().get("end_flag").dtype());
    assertArrayEquals(new long[] {-1, 24}, info.stateVars().get("state/s/c").shape());
    // scalars (i) and the scores variable are not carried
    assertEquals(List.of("end_flag", "state/s/c", "stochastic_var_choice_output"), info.carried());
    assertEquals(StepByStep.defaultInfo(Path.of("a/rec_step_by_step.meta")), Path.of("a/rec_step_by_step.json"));
  }

  @Test
  void refusesWhatItCannotUse() throws IOException {
    String[] bad = {
        "{\"init_op\": ",  // not JSON
        "[1, 2]",  // not an object
        "{\"init_op\": \"init\", " + VARS + "}",  // no stochastic vars
        "{\"init_op\": \"init\", " + VARS + ", \"stochastic_var_order\": [\"a\", \"b\"], " + STOCH + "}",  // two choices
        "{\"init_op\": \"init\", " + VARS.replace("\"stochastic_var_choice_output\": {", "\"x\": {")
            + ", \"stochastic_var_order\": [\"output\"], " + STOCH + "}",
        "{\"init_op\": \"init\", " + VARS.replace("\"bool\"", "\"string\"") + ", \"stochastic_var_order\": [\"output\"], " + STOCH + "}",
    };
    for (String json : bad) {
      Path p = write(json);
      ConversionException e = assertThrows(ConversionException.class, () -> StepByStep.readInfo(p), json);
      assertTrue(e.getMessage().contains("info.json"), e.getMessage());
    }
  }
}
