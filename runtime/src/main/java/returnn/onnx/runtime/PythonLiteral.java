package returnn.onnx.runtime;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the Python literals our inputs are written in: RETURNN vocabulary files ({@code repr} or {@code pprint} of a
 * dict, which RETURNN reads back with {@code eval}) and {@code .npy} headers ({@code repr} of a dict). Values: dict →
 * {@link LinkedHashMap} (later keys win, as in Python), list and tuple → {@link List}, str/bytes → {@link String},
 * int → {@link Long} (or {@link BigInteger}), float → {@link Double}, True/False → {@link Boolean}, None → null.
 * Strings may carry the prefixes u, b, r (Python 2 writes {@code u'...'}); comments and trailing commas are allowed.
 *
 * <p>Hand-written on purpose (issue 17's audit): no Java library parses Python literals short of a Python
 * interpreter (Jython: tens of megabytes, Python 2 semantics, and {@code eval} of an untrusted file is what this class
 * exists to avoid — it reads data, never runs code). The grammar is Python's {@code ast.literal_eval} subset, and
 * the parser bounds its nesting ({@code MAX_DEPTH}) so a hostile file gives an error line, not a stack overflow.
 * A JSON library does not do: vocabularies use single quotes, tuples, {@code None}/{@code True}, byte strings and
 * non-string keys.
 */
public final class PythonLiteral {
  /** Nesting of dicts, lists and tuples followed (a vocabulary needs 1, a .npy header 2); deeper text is refused. */
  static final int MAX_DEPTH = 100;

  private final String s;
  private final String source;
  private int pos;
  private int depth;

  private PythonLiteral(String s, String source) {
    this.s = s;
    this.source = source;
  }

  /**
   * Parses one literal filling the whole text.
   *
   * @param source what the text is (a file name), for error messages
   */
  public static Object parse(String text, String source) {
    PythonLiteral p = new PythonLiteral(text, source);
    Object v = p.value();
    p.skipSpace();
    if (p.pos < text.length()) throw p.error("unexpected '" + text.charAt(p.pos) + "' after the literal");
    return v;
  }

  private Object value() {
    skipSpace();
    if (pos >= s.length()) throw error("unexpected end of text");
    char c = s.charAt(pos);
    if ((c == '{' || c == '[' || c == '(') && depth >= MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH + " levels");
    switch (c) {
      case '{':
        return dict();
      case '[':
        return sequence('[', ']');
      case '(':
        return sequence('(', ')');
      case '\'':
      case '"':
        return string(false);
      default:
        break;
    }
    if (isStringPrefix()) return prefixedString();
    if (c == '-' || c == '+' || c == '.' || Character.isDigit(c)) return number();
    if (Character.isLetter(c) || c == '_') {
      String word = identifier();
      return switch (word) {
        case "True" -> Boolean.TRUE;
        case "False" -> Boolean.FALSE;
        case "None" -> null;
        default -> throw error("'" + word + "' is not a literal (only str, int, float, bool, None, dict, list, tuple)");
      };
    }
    throw error("unexpected '" + c + "'");
  }

  private Map<Object, Object> dict() {
    depth++;
    try {
      return dictBody();
    } finally {
      depth--;
    }
  }

  private List<Object> sequence(char open, char close) {
    depth++;
    try {
      return sequenceBody(close);
    } finally {
      depth--;
    }
  }

  private Map<Object, Object> dictBody() {
    pos++;
    Map<Object, Object> m = new LinkedHashMap<>();
    while (true) {
      skipSpace();
      if (peek('}')) return m;
      Object k = value();
      skipSpace();
      expect(':');
      m.put(k, value());
      skipSpace();
      if (peek('}')) return m;
      expect(',');
    }
  }

  private List<Object> sequenceBody(char close) {
    pos++;
    List<Object> l = new ArrayList<>();
    while (true) {
      skipSpace();
      if (peek(close)) return l;
      l.add(value());
      skipSpace();
      if (peek(close)) return l;
      expect(',');
    }
  }

  private boolean isStringPrefix() {
    int i = pos;
    while (i < s.length() && i - pos < 2 && "uUbBrR".indexOf(s.charAt(i)) >= 0) i++;
    return i > pos && i < s.length() && (s.charAt(i) == '\'' || s.charAt(i) == '"');
  }

  private String prefixedString() {
    boolean raw = false;
    while (s.charAt(pos) != '\'' && s.charAt(pos) != '"') {
      if (Character.toLowerCase(s.charAt(pos)) == 'r') raw = true;
      pos++;
    }
    return string(raw);
  }

  private String string(boolean raw) {
    char quote = s.charAt(pos);
    if (s.startsWith(String.valueOf(quote).repeat(3), pos)) throw error("triple-quoted strings are not supported");
    int start = pos++;
    StringBuilder b = new StringBuilder();
    while (true) {
      if (pos >= s.length()) throw errorAt(start, "unterminated string");
      char c = s.charAt(pos++);
      if (c == quote) return b.toString();
      if (c == '\n') throw errorAt(start, "unterminated string (line break inside)");
      if (c != '\\') {
        b.append(c);
        continue;
      }
      if (pos >= s.length()) throw errorAt(start, "unterminated string");
      char e = s.charAt(pos++);
      if (raw) {
        b.append('\\').append(e);
        continue;
      }
      switch (e) {
        case '\n' -> { } // line continuation
        case '\\', '\'', '"' -> b.append(e);
        case 'n' -> b.append('\n');
        case 't' -> b.append('\t');
        case 'r' -> b.append('\r');
        case 'a' -> b.append('\u0007');
        case 'b' -> b.append('\b');
        case 'f' -> b.append('\f');
        case 'v' -> b.append('\u000b');
        case 'x' -> b.appendCodePoint(hex(2));
        case 'u' -> b.appendCodePoint(hex(4));
        case 'U' -> b.appendCodePoint(hex(8));
        default -> {
          if (e >= '0' && e <= '7') {
            int v = e - '0';
            for (int k = 0; k < 2 && pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '7'; k++) {
              v = v * 8 + (s.charAt(pos++) - '0');
            }
            b.appendCodePoint(v);
          } else {
            b.append('\\').append(e); // Python keeps unknown escapes as they are
          }
        }
      }
    }
  }

  private int hex(int digits) {
    if (pos + digits > s.length()) throw error("truncated \\x/\\u escape");
    try {
      int v = Integer.parseUnsignedInt(s.substring(pos, pos + digits), 16);
      pos += digits;
      if (!Character.isValidCodePoint(v)) throw error("escape is no Unicode code point");
      return v;
    } catch (NumberFormatException ex) {
      throw error("bad hex escape '" + s.substring(pos, pos + digits) + "'");
    }
  }

  private Object number() {
    int start = pos;
    if (s.charAt(pos) == '-' || s.charAt(pos) == '+') pos++;
    boolean floating = false;
    while (pos < s.length()) {
      char c = s.charAt(pos);
      if (Character.isDigit(c) || c == '_') {
        pos++;
      } else if (c == '.' || c == 'e' || c == 'E' || ((c == '-' || c == '+') && "eE".indexOf(s.charAt(pos - 1)) >= 0)) {
        floating = true;
        pos++;
      } else {
        break;
      }
    }
    String t = s.substring(start, pos).replace("_", "");
    try {
      if (floating) return Double.parseDouble(t);
      BigInteger v = new BigInteger(t.startsWith("+") ? t.substring(1) : t);
      return v.bitLength() < 64 ? (Object) v.longValue() : v;
    } catch (NumberFormatException ex) {
      throw errorAt(start, "bad number '" + t + "'");
    }
  }

  private String identifier() {
    int start = pos;
    while (pos < s.length() && (Character.isLetterOrDigit(s.charAt(pos)) || s.charAt(pos) == '_')) pos++;
    return s.substring(start, pos);
  }

  private void skipSpace() {
    while (pos < s.length()) {
      char c = s.charAt(pos);
      if (c == '#') {
        while (pos < s.length() && s.charAt(pos) != '\n') pos++;
      } else if (Character.isWhitespace(c) || c == '\\' && pos + 1 < s.length() && s.charAt(pos + 1) == '\n') {
        pos++;
      } else {
        return;
      }
    }
  }

  private boolean peek(char c) {
    if (pos < s.length() && s.charAt(pos) == c) {
      pos++;
      return true;
    }
    return false;
  }

  private void expect(char c) {
    if (!peek(c)) throw error(pos < s.length() ? "expected '" + c + "', found '" + s.charAt(pos) + "'" : "expected '" + c + "', found the end");
  }

  private IllegalArgumentException error(String msg) {
    return errorAt(pos, msg);
  }

  private IllegalArgumentException errorAt(int at, String msg) {
    int line = 1, col = 1;
    for (int i = 0; i < at && i < s.length(); i++) {
      if (s.charAt(i) == '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
    }
    return new IllegalArgumentException(source + ":" + line + ":" + col + ": " + msg);
  }
}
