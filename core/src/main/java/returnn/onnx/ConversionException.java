package returnn.onnx;

/**
 * The one exception type for conversion failures. Its message always names what is wrong and where:
 * a file (and offset), or a node (TF name and op type).
 */
public class ConversionException extends RuntimeException {
  /**
   * An error with its message.
   *
   * @param message what is wrong and where
   */
  public ConversionException(String message) {
    super(message);
  }

  /**
   * An error with its message and cause.
   *
   * @param message what is wrong and where
   * @param cause the exception that revealed it
   */
  public ConversionException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * An error at a TF node: "node 'lstm/rec/MatMul' (MatMul): message".
   *
   * @param nodeName the TF node's name
   * @param op the TF node's op type
   * @param message what is wrong
   * @return the exception
   */
  public static ConversionException atNode(String nodeName, String op, String message) {
    return new ConversionException("node '" + nodeName + "' (" + op + "): " + message);
  }

  /**
   * An error in a file: "path: message".
   *
   * @param file the file
   * @param message what is wrong
   * @return the exception
   */
  public static ConversionException atFile(java.nio.file.Path file, String message) {
    return new ConversionException(file + ": " + message);
  }
}
