package returnn.onnx.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * The data input of a streaming model and its lengths input: RETURNN names the lengths of data key K
 * {@code extern_data/placeholders/K/K_dim0_size}, so the input named like that is the lengths, the other one the data.
 */
record StreamInputs(String data, String lengths) {
  static final String LENGTHS_SUFFIX = "_dim0_size";

  static StreamInputs of(List<String> dataInputs) {
    List<String> data = new ArrayList<>();
    for (String n : dataInputs) if (!n.endsWith(LENGTHS_SUFFIX)) data.add(n);
    if (data.size() != 1) {
      throw new IllegalArgumentException("expected one data input besides the states and lengths, the model has " + dataInputs);
    }
    String lengths = data.get(0) + LENGTHS_SUFFIX;
    return new StreamInputs(data.get(0), dataInputs.contains(lengths) ? lengths : null);
  }
}
