package returnn.onnx.quantize;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import returnn.onnx.ir.Node;

/**
 * Which nodes stay fp32. A pattern with {@code *} (any characters, '/' included) or {@code ?} is a glob over the whole
 * name; a plain pattern names a node or a scope: {@code output} matches {@code output} and everything under
 * {@code output/} (RETURNN's layer names are the first scope of every TF name), so {@code --exclude output} keeps the
 * output softmax layer in fp32. Both the ONNX node name and the TF name it came from are tried.
 */
final class ExcludePatterns {
  private final List<String> sources;
  private final List<Pattern> patterns = new ArrayList<>();

  ExcludePatterns(List<String> sources) {
    this.sources = List.copyOf(sources);
    for (String s : sources) patterns.add(compile(s));
  }

  /** The pattern that excludes {@code n}, or null. */
  String excluding(Node n) {
    for (int i = 0; i < patterns.size(); i++) {
      Pattern p = patterns.get(i);
      if (p.matcher(n.name()).matches() || (n.tfName() != null && p.matcher(n.tfName()).matches())) return sources.get(i);
    }
    return null;
  }

  /** The patterns that match no node of {@code g} (subgraphs included): most likely typos. */
  List<String> unmatched(returnn.onnx.ir.Graph g) {
    List<String> r = new ArrayList<>();
    for (int i = 0; i < patterns.size(); i++) {
      if (!matchesAny(patterns.get(i), g)) r.add(sources.get(i));
    }
    return r;
  }

  private static boolean matchesAny(Pattern p, returnn.onnx.ir.Graph g) {
    for (Node n : g.nodes()) {
      if (p.matcher(n.name()).matches() || (n.tfName() != null && p.matcher(n.tfName()).matches())) return true;
      for (returnn.onnx.ir.Attr a : n.attrs().values()) {
        if (a instanceof returnn.onnx.ir.Attr.GraphVal gv && matchesAny(p, gv.value())) return true;
      }
    }
    return false;
  }

  static Pattern compile(String glob) {
    boolean wildcard = glob.contains("*") || glob.contains("?");
    StringBuilder re = new StringBuilder();
    for (char c : glob.toCharArray()) {
      if (c == '*') re.append(".*");
      else if (c == '?') re.append('.');
      else re.append(Pattern.quote(String.valueOf(c)));
    }
    if (!wildcard) re.append("(/.*)?");
    return Pattern.compile(re.toString());
  }
}
