package returnn.onnx.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Parsing of list and shape options. */
final class Parsing {
  private Parsing() {}

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
      long[] dims = shape.isEmpty() ? new long[0] : Arrays.stream(shape.split("x"))
          .mapToLong(d -> d.equals("?") ? -1 : Long.parseLong(d.trim())).toArray();
      m.put(name, dims);
    }
    return m;
  }
}
