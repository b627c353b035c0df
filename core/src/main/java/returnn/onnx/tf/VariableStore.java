package returnn.onnx.tf;

import java.util.List;
import returnn.onnx.ir.Tensor;

/** Where variable values come from (a V2 checkpoint); tensors are lazy, so dtype and shape are known before reading. */
public interface VariableStore {
  /** The variable's tensor, or null if the store has no such name. */
  Tensor variable(String name);

  List<String> names();

  /** For messages, e.g. the checkpoint prefix. */
  String describe();
}
