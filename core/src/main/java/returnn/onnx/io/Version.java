package returnn.onnx.io;

/** The tool version written into every model's provenance. */
public final class Version {
  public static final String VERSION = "0.1.0";

  private Version() {}
}
