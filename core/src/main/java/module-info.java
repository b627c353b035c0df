/**
 * returnn-onnx's converter core.
 *
 * <p>Exported to everyone: the API ({@code returnn.onnx.api}, {@code returnn.onnx}'s {@code ConversionException},
 * {@code returnn.onnx.quantize}'s options and report) and what user-supplied op handlers and rewrite rules are written
 * against ({@code convert}, {@code ir}, {@code build}, {@code rewrite}, {@code rewrite.pattern}). Every other package
 * is internal: exported only to the project's own modules, by the module names their jars carry
 * ({@code Automatic-Module-Name}). On the classpath (how the project's own modules and tests run) this file has no
 * effect; on the module path a caller sees only the exported packages.
 */
module returnn.onnx.core {
  requires com.google.protobuf;
  requires tensorflow.nativelib;
  requires org.tribuo.util.onnx;
  requires com.fasterxml.jackson.databind;
  // aircompressor 2.0.3 declares no module name: "aircompressor" is the name derived from its jar file.
  requires aircompressor;

  exports returnn.onnx.api;
  exports returnn.onnx;
  exports returnn.onnx.quantize;
  // The handler and rule SPI and the types a handler or rule touches: usable, but they follow the converter's
  // internals and may change between versions.
  exports returnn.onnx.convert;
  exports returnn.onnx.ir;
  exports returnn.onnx.build;
  exports returnn.onnx.rewrite;
  exports returnn.onnx.rewrite.pattern;

  // Internal: the project's other modules only.
  exports returnn.onnx.io to returnn.onnx.runtime, returnn.onnx.verify, returnn.onnx.bench, returnn.onnx.cli;
  exports returnn.onnx.eval to returnn.onnx.verify, returnn.onnx.bench, returnn.onnx.cli;
  exports returnn.onnx.tf to returnn.onnx.fixtures, returnn.onnx.verify, returnn.onnx.bench, returnn.onnx.cli;
  exports returnn.onnx.tf.checkpoint to returnn.onnx.fixtures, returnn.onnx.verify, returnn.onnx.bench,
      returnn.onnx.cli;
  exports returnn.onnx.tf.savedmodel to returnn.onnx.verify, returnn.onnx.bench, returnn.onnx.cli;
  exports returnn.onnx.stepbystep to returnn.onnx.verify, returnn.onnx.cli;
  exports returnn.onnx.convert.handlers to returnn.onnx.verify, returnn.onnx.cli;
  exports returnn.onnx.rewrite.state to returnn.onnx.runtime, returnn.onnx.verify, returnn.onnx.bench,
      returnn.onnx.cli;
  exports returnn.onnx.rewrite.output to returnn.onnx.verify, returnn.onnx.cli;
  exports returnn.onnx.rewrite.lstm to returnn.onnx.verify, returnn.onnx.bench, returnn.onnx.cli;
  exports returnn.onnx.rewrite.attention to returnn.onnx.verify, returnn.onnx.cli;
  exports returnn.onnx.rewrite.shape to returnn.onnx.verify, returnn.onnx.cli;
  exports returnn.onnx.rewrite.layout to returnn.onnx.verify, returnn.onnx.cli;
  exports returnn.onnx.rewrite.norm to returnn.onnx.verify, returnn.onnx.cli;
  exports returnn.onnx.rewrite.functional to returnn.onnx.verify, returnn.onnx.cli;
  exports returnn.onnx.rewrite.controlflow to returnn.onnx.verify, returnn.onnx.cli;
}
