package returnn.onnx.tf;

import java.util.List;
import returnn.onnx.ir.Tensor;
import returnn.onnx.tf.checkpoint.CheckpointReader;

/** Variables read lazily from a V2 checkpoint. */
public final class CheckpointVariables implements VariableStore {
  private final CheckpointReader reader;

  public CheckpointVariables(CheckpointReader reader) {
    this.reader = reader;
  }

  @Override
  public Tensor variable(String name) {
    return reader.contains(name) ? reader.tensor(name) : null;
  }

  @Override
  public List<String> names() {
    return reader.entries().stream().map(CheckpointReader.Entry::name).toList();
  }

  @Override
  public String describe() {
    return reader.prefix().toString();
  }
}
