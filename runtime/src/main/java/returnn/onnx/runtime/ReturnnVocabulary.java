package returnn.onnx.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.zip.GZIPInputStream;

/**
 * A RETURNN vocabulary file: a Python dict literal of label → id as RETURNN writes it ({@code repr}/{@code pprint}),
 * read back the way RETURNN's {@code Vocabulary._parse_vocab} does ({@code eval} of the file; returnn/datasets/util/
 * vocabulary.py): ids start at 0 and leave no gap, and several labels may share an id (word LMs map both {@code <s>}
 * and {@code </s>} to 0). Files ending in {@code .gz} are decompressed; pickled ({@code .pkl}) vocabularies are not
 * read.
 *
 * <pre>{@code
 * ReturnnVocabulary v = ReturnnVocabulary.read(Path.of("vocab.returnn.txt"));
 * int id = v.id("the");
 * }</pre>
 */
public final class ReturnnVocabulary {
  private final Map<String, Integer> ids;
  private final int size;

  private ReturnnVocabulary(Map<String, Integer> ids, int size) {
    this.ids = Collections.unmodifiableMap(ids);
    this.size = size;
  }

  /**
   * Reads a RETURNN vocabulary file: a Python dict literal {'label': id, ...}, plain or gzipped.
   *
   * @param file the file
   * @return the vocabulary
   */
  public static ReturnnVocabulary read(Path file) {
    String name = file.getFileName().toString();
    if (name.endsWith(".pkl")) {
      throw new IllegalArgumentException(file + ": pickled vocabularies cannot be read; write it as a dict literal "
          + "(python3 -c \"import pickle,sys; print(repr(pickle.load(open(sys.argv[1],'rb'))))\" vocab.pkl > vocab.txt)");
    }
    try (InputStream raw = Files.newInputStream(file);
        InputStream in = name.endsWith(".gz") ? new GZIPInputStream(raw) : raw) {
      return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), file.toString());
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage(), e);
    }
  }

  /**
   * Parses a RETURNN vocabulary (a Python dict literal).
   *
   * @param text the literal
   * @param source a name for error messages
   * @return the vocabulary
   */
  public static ReturnnVocabulary parse(String text, String source) {
    if (!(PythonLiteral.parse(text, source) instanceof Map<?, ?> dict)) {
      throw new IllegalArgumentException(source + ": a RETURNN vocabulary is a dict literal {'label': id, ...}");
    }
    Map<String, Integer> ids = new LinkedHashMap<>();
    TreeSet<Long> used = new TreeSet<>();
    for (Map.Entry<?, ?> e : dict.entrySet()) {
      if (!(e.getKey() instanceof String label) || !(e.getValue() instanceof Long id) || id < 0 || id > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(source + ": entry " + e.getKey() + ": " + e.getValue() + " is not 'label': id >= 0");
      }
      ids.put(label, id.intValue());
      used.add(id);
    }
    if (used.isEmpty()) throw new IllegalArgumentException(source + ": the vocabulary is empty");
    // RETURNN asserts ids 0..max are all used (vocabulary.py: "not all indices used?").
    if (used.last() != used.size() - 1) {
      long missing = 0;
      while (used.contains(missing)) missing++;
      throw new IllegalArgumentException(source + ": ids are not 0.." + used.last() + " without gaps (id " + missing + " is unused)");
    }
    return new ReturnnVocabulary(ids, used.size());
  }

  /**
   * The number of distinct ids (RETURNN's {@code num_labels}).
   *
   * @return the size
   */
  public int size() {
    return size;
  }

  /**
   * Whether {@code label} is in the vocabulary.
   *
   * @param label the label
   * @return true if it is
   */
  public boolean contains(String label) {
    return ids.containsKey(label);
  }

  /**
   * The id of {@code label}; throws naming it if absent.
   *
   * @param label the label
   * @return its id
   */
  public int id(String label) {
    Integer id = ids.get(label);
    if (id == null) throw new IllegalArgumentException("'" + label + "' is not in the vocabulary");
    return id;
  }

  /**
   * Every label and its id.
   *
   * @return an unmodifiable map
   */
  public Map<String, Integer> ids() {
    return ids;
  }
}
