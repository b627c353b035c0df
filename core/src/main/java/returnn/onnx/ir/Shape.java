package returnn.onnx.ir;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A shape of {@link Dim}s, or unknown rank ({@link #UNKNOWN}). Immutable. */
public final class Shape {
  public static final Shape UNKNOWN = new Shape(null);
  public static final Shape SCALAR = new Shape(List.of());

  private final List<Dim> dims;

  private Shape(List<Dim> dims) {
    this.dims = dims == null ? null : List.copyOf(dims);
  }

  public static Shape of(List<Dim> dims) {
    return new Shape(dims);
  }

  public static Shape of(Dim... dims) {
    return new Shape(Arrays.asList(dims));
  }

  /** Fixed sizes; negative entries become unknown dims. */
  public static Shape of(long... sizes) {
    List<Dim> d = new ArrayList<>();
    for (long s : sizes) d.add(Dim.of(s));
    return new Shape(d);
  }

  public boolean hasRank() {
    return dims != null;
  }

  public int rank() {
    if (dims == null) throw new IllegalStateException("shape of unknown rank");
    return dims.size();
  }

  public Dim dim(int i) {
    return dims.get(i < 0 ? dims.size() + i : i);
  }

  public List<Dim> dims() {
    if (dims == null) throw new IllegalStateException("shape of unknown rank");
    return dims;
  }

  public boolean isFullyKnown() {
    if (dims == null) return false;
    for (Dim d : dims) if (!d.isFixed()) return false;
    return true;
  }

  /** Fixed sizes, -1 for dims that are not fixed. */
  public long[] sizes() {
    long[] s = new long[rank()];
    for (int i = 0; i < s.length; i++) s[i] = dims.get(i).value();
    return s;
  }

  public long elementCount() {
    long n = 1;
    for (long s : sizes()) {
      if (s < 0) return -1;
      n *= s;
    }
    return n;
  }

  public Shape withDim(int i, Dim d) {
    List<Dim> l = new ArrayList<>(dims());
    l.set(i, d);
    return new Shape(l);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Shape s && java.util.Objects.equals(dims, s.dims);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hashCode(dims);
  }

  @Override
  public String toString() {
    return dims == null ? "?rank" : dims.toString();
  }
}
