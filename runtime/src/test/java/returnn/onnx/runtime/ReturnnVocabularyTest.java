package returnn.onnx.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RETURNN vocabulary files: Python dict literals as {@code repr}/{@code pprint} write them. */
class ReturnnVocabularyTest {
  @TempDir
  Path dir;

  @Test
  void sentenceBoundariesShareAnId() {
    ReturnnVocabulary v = ReturnnVocabulary.parse("{'<s>': 0, '</s>': 0, 'the': 1, 'cat': 2, '<unk>': 3}", "vocab");
    assertEquals(0, v.id("<s>"));
    assertEquals(0, v.id("</s>"));
    assertEquals(2, v.id("cat"));
    assertEquals(4, v.size(), "distinct ids, as RETURNN's num_labels");
  }

  @Test
  void quotesEscapesAndPythonForms() {
    // What repr() gives for words with quotes, backslashes and non-ASCII, as pprint spreads it over lines; a u'' prefix
    // (Python 2), a comment and a trailing comma.
    String text = "{\"don't\": 0,\n 'say \"hi\"': 1,\n 'back\\\\slash': 2,\n 'tab\\there': 3,\n 'caf\u00e9': 4,\n"
        + " 'caf\\xe9s': 5,\n u'\\u00fcber': 6,\n 'it\\'s': 7,\n '\\U0001f600': 8,  # emoji\n}\n";
    ReturnnVocabulary v = ReturnnVocabulary.parse(text, "vocab");
    assertEquals(0, v.id("don't"));
    assertEquals(1, v.id("say \"hi\""));
    assertEquals(2, v.id("back\\slash"));
    assertEquals(3, v.id("tab\there"));
    assertEquals(4, v.id("café"));
    assertEquals(5, v.id("cafés"));
    assertEquals(6, v.id("über"));
    assertEquals(7, v.id("it's"));
    assertEquals(8, v.id(new String(Character.toChars(0x1f600))));
    assertEquals(9, v.size());
  }

  @Test
  void readsFilesAndGzip() throws Exception {
    String text = "{'<s>': 0, '</s>': 0, 'a': 1}";
    Path plain = dir.resolve("vocab.txt");
    Files.writeString(plain, text);
    assertEquals(1, ReturnnVocabulary.read(plain).id("a"));
    Path gz = dir.resolve("vocab.txt.gz");
    try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(gz))) {
      o.write(text.getBytes(StandardCharsets.UTF_8));
    }
    assertEquals(2, ReturnnVocabulary.read(gz).size());
  }

  @Test
  void badFilesGiveClearErrors() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ReturnnVocabulary.parse("{'a': 0,\n 'b' 1}", "v.txt"));
    assertTrue(e.getMessage().startsWith("v.txt:2:6: expected ':'"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ReturnnVocabulary.parse("{'a': 0, 'b': 2}", "v.txt"));
    assertTrue(e.getMessage().contains("id 1 is unused"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ReturnnVocabulary.parse("{'a': 0, 'b\n': 1}", "v.txt"));
    assertTrue(e.getMessage().contains("unterminated string"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ReturnnVocabulary.parse("{'a': 0, 'b': foo}", "v.txt"));
    assertTrue(e.getMessage().contains("'foo' is not a literal"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ReturnnVocabulary.read(dir.resolve("vocab.pkl")));
    assertTrue(e.getMessage().contains("pickled"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ReturnnVocabulary.parse("{}", "v.txt").id("x"));
    assertTrue(e.getMessage().contains("empty"), e.getMessage());
  }
}
