package returnn.onnx.tf;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/** Edit distance, for "did you mean" suggestions in errors. */
public final class Similarity {
  private Similarity() {}

  /** The {@code n} names closest to {@code missing} by edit distance (ties by name). */
  public static List<String> closest(String missing, Collection<String> names, int n) {
    List<String> l = new ArrayList<>(names);
    l.sort(Comparator.comparingInt((String s) -> distance(missing, s)).thenComparing(s -> s));
    return l.subList(0, Math.min(n, l.size()));
  }

  public static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) prev[j] = j;
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int c = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + c);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
