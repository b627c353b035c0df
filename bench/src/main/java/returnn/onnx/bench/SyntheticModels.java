package returnn.onnx.bench;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;
import returnn.onnx.tf.checkpoint.CheckpointWriter;
import org.tensorflow.proto.GraphDef;

/**
 * Large RETURNN-shaped graphs for the conversion-speed benchmark: a stack of RETURNN {@code linear} layers, each
 * with the dynamic-shape Reshape/MatMul/Reshape/AddV2 pattern and resource variables, 14 nodes a layer.
 */
final class SyntheticModels {
  private SyntheticModels() {}

  record Model(GraphDef graph, Map<String, Tensor> weights, String output) {}

  static Model linearStack(int layers, int dim) {
    GraphDefBuilder b = new GraphDefBuilder();
    Map<String, Tensor> w = new LinkedHashMap<>();
    Random r = new Random(7);
    String x = b.placeholder("extern_data/placeholders/data/data", DType.FLOAT, -1, -1, dim).name();
    b.placeholder("extern_data/placeholders/data/data_dim0_size", DType.INT32, -1);
    String c0 = b.constant("consts/zero", Tensor.ofInts(new long[] {1}, 0)).name();
    String c1 = b.constant("consts/one", Tensor.ofInts(new long[] {1}, 1)).name();
    String c2 = b.constant("consts/two", Tensor.ofInts(new long[] {1}, 2)).name();
    String flat = b.constant("consts/flat", Tensor.ofInts(new long[] {2}, -1, dim)).name();
    String feat = b.constant("consts/dim", Tensor.ofInts(new long[0], dim)).name();
    for (int l = 0; l < layers; l++) {
      String s = "layer" + l;
      String shape = b.op("Shape", s + "/Shape", x).attr("T", DType.FLOAT).attr("out_type", DType.INT32).name();
      String bt = b.op("StridedSlice", s + "/strided_slice", shape, c0, c1, c1).attr("T", DType.INT32)
          .attr("Index", DType.INT32).attr("shrink_axis_mask", 1L).name();
      String tt = b.op("StridedSlice", s + "/strided_slice_1", shape, c1, c2, c1).attr("T", DType.INT32)
          .attr("Index", DType.INT32).attr("shrink_axis_mask", 1L).name();
      String target = b.op("Pack", s + "/stack", bt, tt, feat).attr("T", DType.INT32).attr("N", 3L).name();
      String flat2 = b.op("Reshape", s + "/Reshape", x, flat).attr("T", DType.FLOAT).attr("Tshape", DType.INT32).name();
      String wv = variable(b, w, s + "/W", new long[] {dim, dim}, r);
      String bv = variable(b, w, s + "/b", new long[] {dim}, r);
      String mm = b.op("MatMul", s + "/MatMul", flat2, wv).attr("T", DType.FLOAT).name();
      String back = b.op("Reshape", s + "/Reshape_1", mm, target).attr("T", DType.FLOAT).attr("Tshape", DType.INT32).name();
      String add = b.op("AddV2", s + "/add", back, bv).attr("T", DType.FLOAT).name();
      String act = b.op("Tanh", s + "/Tanh", add).attr("T", DType.FLOAT).name();
      x = b.op("Identity", s + "/output_batch_major", act).attr("T", DType.FLOAT).name();
    }
    b.op("Identity", "output/output_batch_major", x).attr("T", DType.FLOAT);
    return new Model(b.build(), w, "output/output_batch_major");
  }

  private static String variable(GraphDefBuilder b, Map<String, Tensor> w, String name, long[] shape, Random r) {
    float[] v = new float[(int) Tensor.count(shape)];
    for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * 0.1);
    w.put(name, Tensor.ofFloats(shape, v));
    String h = b.opExact("VarHandleOp", name).attr("dtype", DType.FLOAT).attrShape("shape", shape)
        .attr("shared_name", name).name();
    return b.opExact("ReadVariableOp", name + "/Read/ReadVariableOp", h).attr("dtype", DType.FLOAT).name();
  }

  static void writeCheckpoint(Path prefix, Map<String, Tensor> weights) {
    CheckpointWriter.write(prefix, weights);
  }
}
