package returnn.onnx.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Parsing of list and shape options. */
final class Parsing {
  private Parsing() {}

  /** Refuses an option value outside [min, max] with one error naming the flag. */
  static long range(String flag, long value, long min, long max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(flag + " must be " + min + " to " + max + ", got " + value);
    }
    return value;
  }

  static List<String> list(String csv) {
    if (csv == null || csv.isBlank()) return List.of();
    List<String> l = new ArrayList<>();
    for (String s : csv.split(",")) if (!s.isBlank()) l.add(s.trim());
    return l;
  }

  /**
   * {@code NAME:d0xd1x...} entries separated by commas, e.g.
   * {@code extern_data/placeholders/data/data:-1x-1x40}; -1 or ? keeps a dim dynamic. The last ':' separates the shape.
   */
  static Map<String, long[]> shapes(String spec) {
    Map<String, long[]> m = new LinkedHashMap<>();
    if (spec == null || spec.isBlank()) return m;
    for (String item : spec.split(",")) {
      int c = item.lastIndexOf(':');
      if (c <= 0) throw new IllegalArgumentException("--inputs entry '" + item + "' is not NAME:SHAPE (e.g. data:-1x-1x40)");
      String name = item.substring(0, c).trim();
      if (name.endsWith(":0")) name = name.substring(0, name.length() - 2);
      String shape = item.substring(c + 1).trim();
      long[] dims = shape.isEmpty() ? new long[0] : Arrays.stream(shape.split("x", -1))
          .mapToLong(d -> dim(item, d.trim())).toArray();
      // Fixed dims alone must not ask for more than a tensor can hold (2 GiB of bytes at 1 byte an element):
      // a model with such an input could never be fed, and folding its shapes would allocate it.
      long elements = 1;
      for (long d : dims) {
        if (d > 0) elements = elements > (Integer.MAX_VALUE - 8L) / d ? Long.MAX_VALUE : elements * d;
      }
      if (elements > Integer.MAX_VALUE - 8L) {
        throw new IllegalArgumentException("--inputs entry '" + item + "' fixes a shape of more than 2^31 elements");
      }
      if (m.put(name, dims) != null) throw new IllegalArgumentException("--inputs names '" + name + "' twice");
    }
    return m;
  }

  private static long dim(String item, String d) {
    if (d.equals("?")) return -1;
    try {
      long v = Long.parseLong(d);
      if (v >= -1) return v;
    } catch (NumberFormatException e) {
      // below
    }
    throw new IllegalArgumentException("--inputs entry '" + item + "': '" + d + "' is not a dim (a size >= 0, or -1 or ? for dynamic)");
  }
}
