package returnn.onnx.ir;

/** Element types, with their ONNX and TensorFlow codes. */
public enum DType {
  FLOAT(1, 1, 4),
  UINT8(2, 4, 1),
  INT8(3, 6, 1),
  UINT16(4, 17, 2),
  INT16(5, 5, 2),
  INT32(6, 3, 4),
  INT64(7, 9, 8),
  STRING(8, 7, -1),
  BOOL(9, 10, 1),
  FLOAT16(10, 19, 2),
  DOUBLE(11, 2, 8),
  UINT32(12, 22, 4),
  UINT64(13, 23, 8),
  BFLOAT16(16, 14, 2),
  /** TF resource handles (variables); never reaches ONNX. */
  RESOURCE(-1, 20, -1),
  /** TF variant (TensorArray flows and lists); never reaches ONNX. */
  VARIANT(-2, 21, -1);

  public final int onnxCode;
  public final int tfCode;
  /** Bytes per element, or -1 for variable-size types. */
  public final int size;

  DType(int onnxCode, int tfCode, int size) {
    this.onnxCode = onnxCode;
    this.tfCode = tfCode;
    this.size = size;
  }

  public boolean isFloating() {
    return this == FLOAT || this == DOUBLE || this == FLOAT16 || this == BFLOAT16;
  }

  public boolean isInteger() {
    return this == INT8 || this == INT16 || this == INT32 || this == INT64
        || this == UINT8 || this == UINT16 || this == UINT32 || this == UINT64;
  }

  public static DType fromOnnx(int code) {
    for (DType t : values()) if (t.onnxCode == code) return t;
    throw new IllegalArgumentException("unknown ONNX element type " + code);
  }

  /** TF codes; reference types (code + 100) map to their base type. Returns null if unknown. */
  public static DType fromTfOrNull(int code) {
    if (code > 100) code -= 100;
    for (DType t : values()) if (t.tfCode == code) return t;
    return null;
  }

  public String lower() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
