package returnn.onnx.verify.zoo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import returnn.onnx.ir.Tensor;
import returnn.onnx.runtime.Npy;

/**
 * The RETURNN zoo ({@code returnn-zoo/manifest.json}): real RETURNN models, trained a few steps and compiled by RETURNN
 * itself, with the inputs TensorFlow was fed and the outputs it gave (RETURNN's own native ops, no twin). Written by
 * {@code returnn-zoo/generate}; read here without Python.
 */
record Zoo(Path root, List<Model> models) {

  /** One model of the manifest; paths resolved against the zoo folder. */
  record Model(String name, String kind, String description, Path graph, Path checkpoint, Map<String, Path> inputs,
      Map<String, Path> outputs, int[] lengths, Map<String, Integer> fuse, JsonNode state, JsonNode entry) {

    Map<String, Tensor> readInputs() {
      return read(inputs);
    }

    Map<String, Tensor> readOutputs() {
      return read(outputs);
    }

    List<String> outputNames() {
      return new ArrayList<>(outputs.keySet());
    }

    private static Map<String, Tensor> read(Map<String, Path> files) {
      Map<String, Tensor> m = new LinkedHashMap<>();
      files.forEach((k, v) -> m.put(k, Npy.read(v)));
      return m;
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /**
   * The zoo of this checkout: {@code returnn-zoo/} beside the module folder the tests run in. {@code -Dzoo.models=a,b}
   * keeps only those models (to run one model's tests while working on it; ./run-tests sets nothing).
   */
  static Zoo load() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.isRegularFile(dir.resolve("returnn-zoo/manifest.json"))) dir = dir.getParent();
    if (dir == null) throw new IllegalStateException("returnn-zoo/manifest.json not found above " + Path.of("").toAbsolutePath());
    Zoo zoo = read(dir.resolve("returnn-zoo"));
    String only = System.getProperty("zoo.models", "");
    if (only.isBlank()) return zoo;
    List<String> names = List.of(only.split(","));
    return new Zoo(zoo.root(), zoo.models().stream().filter(m -> names.contains(m.name())).toList());
  }

  static Zoo read(Path root) {
    JsonNode manifest;
    try {
      manifest = new ObjectMapper().readTree(root.resolve("manifest.json").toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<Model> models = new ArrayList<>();
    for (JsonNode m : manifest.get("models")) {
      Map<String, Integer> fuse = new LinkedHashMap<>();
      m.path("fuse").fields().forEachRemaining(e -> fuse.put(e.getKey(), e.getValue().asInt()));
      int[] lengths = new int[m.path("lengths").size()];
      for (int i = 0; i < lengths.length; i++) lengths[i] = m.get("lengths").get(i).asInt();
      models.add(new Model(m.get("name").asText(), m.get("kind").asText(), m.path("description").asText(),
          root.resolve(m.get("graph").asText()), root.resolve(m.get("checkpoint").asText()), files(root, m.get("inputs")),
          files(root, m.get("outputs")), lengths, fuse, m.get("state"), m));
    }
    return new Zoo(root, models);
  }

  private static Map<String, Path> files(Path root, JsonNode node) {
    Map<String, Path> m = new LinkedHashMap<>();
    if (node != null) node.fields().forEachRemaining(e -> m.put(e.getKey(), root.resolve(e.getValue().get("file").asText())));
    return m;
  }
}
