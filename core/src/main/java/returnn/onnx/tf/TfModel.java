package returnn.onnx.tf;

import java.nio.file.Path;
import java.util.Map;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.OpList;
import org.tensorflow.proto.SaverDef;

/**
 * A TF graph as read from disk.
 *
 * @param graph the GraphDef
 * @param source the file or SavedModel directory it came from
 * @param format how it was stored
 * @param saverDef the MetaGraphDef's saver, or null
 * @param strippedOps op definitions stored with a MetaGraphDef (custom ops included), possibly empty
 * @param signatureInputs SavedModel signature input key → TF tensor name (empty otherwise)
 * @param signatureOutputs SavedModel signature output key → TF tensor name (empty otherwise)
 * @param variablesPrefix for a SavedModel, its {@code variables/variables} checkpoint prefix, else null
 */
public record TfModel(
    GraphDef graph,
    Path source,
    Format format,
    SaverDef saverDef,
    OpList strippedOps,
    Map<String, String> signatureInputs,
    Map<String, String> signatureOutputs,
    Path variablesPrefix) {

  public enum Format {
    GRAPHDEF_BINARY,
    GRAPHDEF_TEXT,
    METAGRAPH_BINARY,
    METAGRAPH_TEXT,
    SAVED_MODEL
  }
}
