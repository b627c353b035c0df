package returnn.onnx.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;

/**
 * The JSON kept in model metadata (the state mapping, the step-by-step description), through Jackson: values are
 * {@link java.util.Map} (insertion order), {@link java.util.List}, {@link String}, {@link Long} or {@link Double},
 * {@link Boolean} and null. Written on one line as {@code {"a": 1, "b": [2, 3]}}, so the same model gives the same
 * bytes.
 */
public final class MetadataJson {
  private static final ObjectMapper MAPPER = new ObjectMapper()
      .enable(DeserializationFeature.USE_LONG_FOR_INTS)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  private static final ObjectWriter WRITER = MAPPER.writer(new DefaultPrettyPrinter(
      Separators.createDefaultInstance()
          .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
          .withObjectEntrySpacing(Separators.Spacing.AFTER)
          .withArrayValueSpacing(Separators.Spacing.AFTER))
      .withObjectIndenter(new DefaultPrettyPrinter.NopIndenter())
      .withArrayIndenter(new DefaultPrettyPrinter.NopIndenter()));

  private MetadataJson() {}

  /** The value of {@code text}; an {@link IllegalArgumentException} naming the problem if it is not JSON. */
  public static Object parse(String text) {
    try {
      return MAPPER.readValue(text, Object.class);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("malformed JSON: " + e.getOriginalMessage(), e);
    }
  }

  public static String write(Object value) {
    try {
      return WRITER.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("no JSON form for " + value + ": " + e.getOriginalMessage(), e);
    }
  }
}
