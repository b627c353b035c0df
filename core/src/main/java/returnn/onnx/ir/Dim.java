package returnn.onnx.ir;

/** One dimension: a fixed size, a named symbolic size ("batch", "data_dim0_size"), or unknown. */
public record Dim(long value, String symbol) {
  public static final Dim UNKNOWN = new Dim(-1, null);

  public static Dim of(long value) {
    return value < 0 ? UNKNOWN : new Dim(value, null);
  }

  public static Dim sym(String symbol) {
    return new Dim(-1, symbol);
  }

  public boolean isFixed() {
    return value >= 0;
  }

  public boolean isSymbolic() {
    return symbol != null;
  }

  @Override
  public String toString() {
    return isFixed() ? Long.toString(value) : symbol != null ? symbol : "?";
  }
}
