package returnn.onnx.tf;

/**
 * A TF tensor name split into node and output index. ONNX names follow the rule users rely on: the TF tensor name
 * with a {@code :0} suffix dropped, {@code :N} kept for N > 0, nothing else changed.
 */
public record TensorRef(String node, int index) {
  public static TensorRef parse(String s) {
    String t = s.startsWith("^") ? s.substring(1) : s;
    int c = t.lastIndexOf(':');
    if (c > 0) {
      String idx = t.substring(c + 1);
      if (!idx.isEmpty() && idx.chars().allMatch(Character::isDigit)) {
        return new TensorRef(t.substring(0, c), Integer.parseInt(idx));
      }
    }
    return new TensorRef(t, 0);
  }

  public String onnxName() {
    return index == 0 ? node : node + ":" + index;
  }

  @Override
  public String toString() {
    return node + ":" + index;
  }
}
