package returnn.onnx.stepbystep;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON the step-by-step info file and metadata need (a copy of rewrite.state.Json) (RFC 8259): values are {@link Map} (insertion order), {@link List}, {@link String},
 * {@link Long} or {@link Double}, {@link Boolean} and null. Core has no JSON library, and this small subset is all the
 * metadata holds.
 */
final class Json {
  private final String s;
  private int pos;

  private Json(String s) {
    this.s = s;
  }

  static Object parse(String text) {
    Json j = new Json(text);
    Object v = j.value();
    j.space();
    if (j.pos != text.length()) throw j.error("trailing characters");
    return v;
  }

  static String write(Object v) {
    StringBuilder b = new StringBuilder();
    write(v, b);
    return b.toString();
  }

  private static void write(Object v, StringBuilder b) {
    if (v == null) {
      b.append("null");
    } else if (v instanceof String str) {
      quote(str, b);
    } else if (v instanceof Number || v instanceof Boolean) {
      b.append(v);
    } else if (v instanceof Map<?, ?> m) {
      b.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (!first) b.append(", ");
        first = false;
        quote((String) e.getKey(), b);
        b.append(": ");
        write(e.getValue(), b);
      }
      b.append('}');
    } else if (v instanceof List<?> l) {
      b.append('[');
      for (int i = 0; i < l.size(); i++) {
        if (i > 0) b.append(", ");
        write(l.get(i), b);
      }
      b.append(']');
    } else {
      throw new IllegalArgumentException("no JSON form for " + v.getClass().getSimpleName());
    }
  }

  private static void quote(String str, StringBuilder b) {
    b.append('"');
    for (int i = 0; i < str.length(); i++) {
      char c = str.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
        }
      }
    }
    b.append('"');
  }

  private Object value() {
    space();
    if (pos >= s.length()) throw error("unexpected end");
    char c = s.charAt(pos);
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') return string();
    if (s.startsWith("true", pos)) return literal("true", Boolean.TRUE);
    if (s.startsWith("false", pos)) return literal("false", Boolean.FALSE);
    if (s.startsWith("null", pos)) return literal("null", null);
    if (c == '-' || Character.isDigit(c)) return number();
    throw error("unexpected '" + c + "'");
  }

  private Object literal(String word, Object v) {
    pos += word.length();
    return v;
  }

  private Map<String, Object> object() {
    pos++;
    Map<String, Object> m = new LinkedHashMap<>();
    space();
    if (take('}')) return m;
    do {
      space();
      if (pos >= s.length() || s.charAt(pos) != '"') throw error("expected a key");
      String k = string();
      space();
      if (!take(':')) throw error("expected ':'");
      m.put(k, value());
      space();
    } while (take(','));
    if (!take('}')) throw error("expected ',' or '}'");
    return m;
  }

  private List<Object> array() {
    pos++;
    List<Object> l = new ArrayList<>();
    space();
    if (take(']')) return l;
    do {
      l.add(value());
      space();
    } while (take(','));
    if (!take(']')) throw error("expected ',' or ']'");
    return l;
  }

  private String string() {
    pos++;
    StringBuilder b = new StringBuilder();
    while (true) {
      if (pos >= s.length()) throw error("unterminated string");
      char c = s.charAt(pos++);
      if (c == '"') return b.toString();
      if (c != '\\') {
        b.append(c);
        continue;
      }
      if (pos >= s.length()) throw error("unterminated string");
      char e = s.charAt(pos++);
      switch (e) {
        case '"', '\\', '/' -> b.append(e);
        case 'b' -> b.append('\b');
        case 'f' -> b.append('\f');
        case 'n' -> b.append('\n');
        case 'r' -> b.append('\r');
        case 't' -> b.append('\t');
        case 'u' -> {
          if (pos + 4 > s.length()) throw error("truncated \\u escape");
          b.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
          pos += 4;
        }
        default -> throw error("bad escape \\" + e);
      }
    }
  }

  private Object number() {
    int start = pos;
    if (s.charAt(pos) == '-') pos++;
    while (pos < s.length() && "0123456789.eE+-".indexOf(s.charAt(pos)) >= 0) pos++;
    String t = s.substring(start, pos);
    try {
      return t.contains(".") || t.contains("e") || t.contains("E") ? (Object) Double.parseDouble(t) : (Object) Long.parseLong(t);
    } catch (NumberFormatException e) {
      throw error("bad number '" + t + "'");
    }
  }

  private void space() {
    while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) pos++;
  }

  private boolean take(char c) {
    if (pos < s.length() && s.charAt(pos) == c) {
      pos++;
      return true;
    }
    return false;
  }

  private IllegalArgumentException error(String msg) {
    return new IllegalArgumentException("JSON, offset " + pos + ": " + msg);
  }
}
