package returnn.onnx.verify;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;

/**
 * Random inputs with realistic RETURNN lengths: a padded batch whose sequences have different lengths (the longest
 * filling the time axis, one short), each {@code K_dim0_size} placeholder holding the lengths of data key K, and
 * sparse label inputs drawn below the vocabulary size.
 */
public final class InputGenerator {
  /** One model input: TF placeholder name, dtype, shape (symbolic dims allowed), and an exclusive upper bound for ints. */
  public record Spec(String name, DType dtype, Shape shape, long intBound) {}

  private final long seed;
  private final int batch;
  private final int time;

  public InputGenerator(long seed, int batch, int time) {
    this.seed = seed;
    this.batch = batch;
    this.time = time;
  }

  /** Sequence lengths for the batch: the first fills the time axis, the last is short, all at least 1. */
  public int[] lengths() {
    int[] l = new int[batch];
    Random r = new Random(seed ^ 0x5eed);
    for (int b = 0; b < batch; b++) {
      if (b == 0) l[b] = time;
      else if (b == batch - 1) l[b] = Math.max(1, time / 4);
      else l[b] = 1 + r.nextInt(time);
    }
    return l;
  }

  public Map<String, Tensor> generate(List<Spec> specs) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    int[] lens = lengths();
    Random r = new Random(seed);
    for (Spec s : specs) {
      boolean isLength = s.name().matches(".*_dim\\d+_size(:0)?");
      long[] shape = concrete(s.shape());
      if (isLength && shape.length == 1) {
        out.put(s.name(), lengthsTensor(s.dtype(), lens));
        continue;
      }
      int n = (int) Tensor.count(shape);
      if (s.dtype().isFloating()) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = r.nextGaussian();
        out.put(s.name(), Tensor.fromDoubles(s.dtype(), shape, v));
      } else if (s.dtype() == DType.BOOL) {
        long[] v = new long[n];
        for (int i = 0; i < n; i++) v[i] = r.nextBoolean() ? 1 : 0;
        out.put(s.name(), Tensor.fromLongs(DType.BOOL, shape, v));
      } else {
        long bound = s.intBound() > 0 ? s.intBound() : 10;
        long[] v = new long[n];
        for (int i = 0; i < n; i++) v[i] = (long) (r.nextDouble() * bound);
        out.put(s.name(), Tensor.fromLongs(s.dtype(), shape, v));
      }
    }
    return out;
  }

  private Tensor lengthsTensor(DType dt, int[] lens) {
    long[] v = new long[lens.length];
    for (int i = 0; i < v.length; i++) v[i] = lens[i];
    return Tensor.fromLongs(dt, new long[] {lens.length}, v);
  }

  /** Symbolic or unknown dims: batch for the first, time for the others. */
  long[] concrete(Shape s) {
    if (!s.hasRank()) throw new IllegalArgumentException("input of unknown rank; give its shape with --inputs");
    List<Long> d = new ArrayList<>();
    for (int i = 0; i < s.rank(); i++) {
      Dim x = s.dim(i);
      d.add(x.isFixed() ? x.value() : i == 0 ? batch : time);
    }
    return d.stream().mapToLong(Long::longValue).toArray();
  }
}
