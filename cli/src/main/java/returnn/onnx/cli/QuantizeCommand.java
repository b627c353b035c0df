package returnn.onnx.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import returnn.onnx.ConversionException;
import returnn.onnx.ConvertOptions;
import returnn.onnx.SafePaths;
import returnn.onnx.io.OnnxReader;
import returnn.onnx.io.OnnxWriter;
import returnn.onnx.quantize.QuantizationReport;
import returnn.onnx.quantize.Quantizer;

@Command(name = "quantize", mixinStandardHelpOptions = true,
    description = "Dynamic int8 quantization of an ONNX model's weights: MatMul/Gemm → com.microsoft.DynamicQuantizeMatMul, "
        + "LSTM → com.microsoft.DynamicQuantizeLSTM, embedding Gather → int8 table + dequantize. Activations stay float.")
final class QuantizeCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "IN.onnx", description = "The fp32 model.")
  Path input;

  @Option(names = "--output", required = true, description = "The quantized model to write.")
  Path output;

  @Mixin
  QuantizeFlags flags = new QuantizeFlags();

  @Override
  public Integer call() throws IOException {
    long t0 = System.nanoTime();
    Path outData = output.resolveSibling(output.getFileName() + ".data");
    List<Path> ins = new ArrayList<>(List.of(input, input.resolveSibling(input.getFileName() + ".data")));
    SafePaths.checkOutput(output, ins);
    SafePaths.checkOutput(outData, ins);
    OnnxReader.Model m = OnnxReader.read(input);
    // The weights of the input are read lazily while writing: the output must not replace any of its files.
    SafePaths.checkOutput(output, m.externalFiles());
    SafePaths.checkOutput(outData, m.externalFiles());
    if (m.opset() < ConvertOptions.MIN_OPSET) {
      throw ConversionException.atFile(input, "opset " + m.opset() + " is below " + ConvertOptions.MIN_OPSET + ", the oldest this tool writes");
    }
    QuantizationReport r = Quantizer.quantize(m.graph(), flags.options(), m.opset());
    Map<String, String> metadata = new LinkedHashMap<>(m.metadata());
    metadata.put(Quantizer.METADATA_KEY, flags.options().describe());
    OnnxWriter.write(m.graph(), m.opset(), metadata, output);
    System.out.print(r.format());
    System.out.printf("model: %,d -> %,d bytes on disk; read, quantized and written in %d ms%n", OnnxWriter.bytesOnDisk(input),
        OnnxWriter.bytesOnDisk(output), (System.nanoTime() - t0) / 1_000_000);
    if (r.quantized().isEmpty()) System.out.println("warning: no weight was quantized");
    System.out.println("wrote " + output);
    return 0;
  }
}
