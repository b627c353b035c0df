package returnn.onnx;

/**
 * The one exception type for conversion failures. Its message always names what is wrong and where:
 * a file (and offset), or a node (TF name and op type).
 */
public class ConversionException extends RuntimeException {
  public ConversionException(String message) {
    super(message);
  }

  public ConversionException(String message, Throwable cause) {
    super(message, cause);
  }

  /** An error at a TF node: "node 'lstm/rec/MatMul' (MatMul): message". */
  public static ConversionException atNode(String nodeName, String op, String message) {
    return new ConversionException("node '" + nodeName + "' (" + op + "): " + message);
  }

  public static ConversionException atFile(java.nio.file.Path file, String message) {
    return new ConversionException(file + ": " + message);
  }
}
