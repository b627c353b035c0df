package returnn.onnx.rewrite.attention;

import static returnn.onnx.rewrite.pattern.Pattern.any;
import static returnn.onnx.rewrite.pattern.Pattern.either;
import static returnn.onnx.rewrite.pattern.Pattern.ints;
import static returnn.onnx.rewrite.pattern.Pattern.op;
import static returnn.onnx.rewrite.pattern.Pattern.scalar;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.List;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.build.Attrs;
import returnn.onnx.build.OnnxBuilder;
import returnn.onnx.rewrite.pattern.Match;
import returnn.onnx.rewrite.pattern.Matcher;
import returnn.onnx.rewrite.pattern.Pattern;

/**
 * RETURNN's relative-position energy term ({@code key_shift} from a {@code relative_positional_encoding} layer;
 * rec.py SelfAttentionLayer): the encoding matrix E [2c+1, d] gathered at {@code clip(j - i, -c, c) + c} into a
 * [T,T,d] tensor, multiplied with every query (T² · d numbers materialized, then a batch of T skinny products).
 *
 * <p>The same term is {@code P[i, clip(j - i) + c]} with {@code P = q · Eᵀ} [B,H,T,2c+1], built here from contiguous
 * copies only: the keys at or after query i read row i of U [T, T+1] (P's columns c..2c, edge-padded), those before
 * it row i-1 of L [T, T+1] (P's columns 0..c-1 of the next row, edge-padded in front). Viewed as [T+1, T] (a free
 * Reshape), row i of U's view holds distances 0.. from column i on, and row i of L's view distances ..-1 up to column
 * i; one Where on j ≥ i joins them into [T+1, T] rows: the last row is extra (a query the fused attention can
 * take and drop). (A Gather along the last axis instead: ONNX Runtime copies it element by element, 5x slower.)
 *
 * @param q the scaled queries per head [B,H,T,d] the term reads
 * @param reversed distances run {@code i - j} (ExpandDims 1 minus 0) instead of RETURNN's {@code j - i}
 */
record RelativePositions(Value q, Tensor encoding, long clip, boolean reversed) {
  private static final Pattern DISTANCE = op("Sub",
      op("ExpandDims", positions("range_a", "offset_a"), scalar("axis_a")),
      op("ExpandDims", positions("range_b", "offset_b"), scalar("axis_b")));
  private static final Pattern CLIPPED = either(
      op("Maximum", op("Minimum", DISTANCE, scalar("hi")).commutative(), scalar("lo")).commutative(),
      op("ClipByValue", DISTANCE, scalar("lo"), scalar("hi")));
  private static final Pattern ENCODING = op("ResourceGather|GatherV2|Gather",
      Pattern.constant("encoding_matrix"), op("AddV2|Add", CLIPPED, scalar("shift")).commutative()).as("gather");

  /** The term, rooted at its Transpose to [B,H,T,T]. */
  static final Pattern.Op PATTERN = op("Transpose",
      op("Reshape",
          op("BatchMatMulV2|BatchMatMul",
              op("Reshape", op("Transpose", any("q"), ints(2, 0, 1, 3)), any("q_shape")), ENCODING)
              .attr("adj_x", false).attr("adj_y", true).anchor(),
          any("term_shape")),
      ints(1, 2, 0, 3));

  /**
   * {@code range(0, length)}, or that plus a scalar offset: real RETURNN graphs add the query offset (0 outside a
   * decoder loop) to the query positions, and build each side's Range node of its own.
   */
  private static Pattern positions(String range, String offset) {
    Pattern.Op r = op("Range", scalar(0), any("length"), scalar(1)).as(range);
    return either(r, op("AddV2|Add", r, scalar(offset)).commutative());
  }

  /** The term computing {@code v}, if it is RETURNN's key_shift term. */
  static RelativePositions recognize(Value v) {
    Matcher.Result r = new Matcher(Node.TF).match(PATTERN, v);
    return r.matched() ? of(r.match(), new String[1]) : null;
  }

  /** The term of a match of {@link #PATTERN}, or null with the reason in {@code reason[0]}. */
  static RelativePositions of(Match m, String[] reason) {
    long c = (long) m.constant("hi").getDouble(0);
    if (c < 0 || m.constant("lo").getDouble(0) != -c || m.constant("shift").getDouble(0) != c) {
      reason[0] = "indices are not clip(distance, -c, c) + c (lo " + m.constant("lo").getDouble(0) + ", hi "
          + m.constant("hi").getDouble(0) + ", shift " + m.constant("shift").getDouble(0) + ")";
      return null;
    }
    for (String offset : new String[] {"offset_a", "offset_b"}) {
      if (m.has(offset) && m.constant(offset).getDouble(0) != 0) {
        reason[0] = "positions are offset by " + m.constant(offset).getDouble(0) + " (a decoder step), not 0";
        return null;
      }
    }
    Tensor e = m.constant("encoding_matrix");
    if (e.rank() != 2 || e.shape()[0] != 2 * c + 1 || e.dtype() != DType.FLOAT) {
      reason[0] = "encoding matrix " + java.util.Arrays.toString(e.shape()) + " is not float [" + (2 * c + 1) + ", d]";
      return null;
    }
    Node gather = m.node("gather");
    if (!gather.op().equals("ResourceGather")) {
      Value axis = gather.inputs().size() > 2 ? Matcher.resolve(gather.input(2)) : null;
      if (axis != null && (!axis.isConstant() || axis.constant().getLong(0) != 0)) {
        reason[0] = "the encoding is not gathered along axis 0";
        return null;
      }
    }
    int sign = sign(m);
    if (sign == 0) {
      reason[0] = "the distance is not between ExpandDims of axes 0 and 1";
      return null;
    }
    if (!rank(m.value("q_shape"), 3, e.shape()[1]) || !rank(m.value("term_shape"), 4, -1)) {
      reason[0] = "q is not reshaped to [T, B·H, " + e.shape()[1] + "] and back to [T,B,H,T]";
      return null;
    }
    return new RelativePositions(m.value("q"), e, c, sign < 0);
  }

  /** +1 for {@code j - i} (ExpandDims 0 minus ExpandDims 1, RETURNN's), -1 for {@code i - j}, 0 otherwise. */
  private static int sign(Match m) {
    long a = m.constant("axis_a").getLong(0), b = m.constant("axis_b").getLong(0);
    a = a < 0 ? a + 2 : a;
    b = b < 0 ? b + 2 : b;
    if (a == 0 && b == 1) return 1;
    if (a == 1 && b == 0) return -1;
    return 0;
  }

  /** A shape target (constant or Pack) of {@code rank} entries whose last is {@code last} (-1: anything). */
  private static boolean rank(Value shape, int rank, long last) {
    Value s = Matcher.resolve(shape);
    if (s.isConstant()) return s.constant().size() == rank && (last == -1 || s.constant().getLong(rank - 1) == last);
    Node p = s.producer();
    if (p == null || !p.is(Node.TF, "Pack") || p.inputs().size() != rank) return false;
    if (last == -1) return true;
    Value l = Matcher.resolve(p.input(rank - 1));
    return l.isConstant() && l.constant().size() == 1 && l.constant().getLong(0) == last;
  }

  /**
   * The term for scaled queries per head {@code qHeads} [B,H,T,d]: [B,H,T+1,T] with one extra (finite, meaningless)
   * last row when {@code extraRow}, else [B,H,T,T].
   */
  Value emit(OnnxBuilder b, Value qHeads, boolean extraRow) {
    long c = clip;
    Value p = b.op("MatMul", qHeads, b.constant(transpose(encoding, reversed)));
    Value t = b.slice(b.shapeOf(qHeads), new long[] {2}, new long[] {3}, new long[] {0}, null);
    Value zero = b.constLongs(0);
    // U[i, m] = P[i, c + min(m, c)], m in [0, T]: columns c..2c (cut to T+1), edge-padded to T+1.
    Value upper = slice(b, p, b.constLongs(c), b.op("Add", b.constLongs(c + 1), t), 3);
    upper = edgePad(b, upper, zero, b.op("Max", b.op("Sub", t, b.constLongs(c)), zero));
    // L[r, m] = P[r+1, c + max(m - T - 1, -c)]: the next row's columns 0..c-1 (the last from cut), edge-padded in front.
    Value nextRows = slice(b, edgePadRows(b, p), b.constLongs(1), b.op("Add", t, b.constLongs(1)), 2);
    Value cut = b.op("Max", b.op("Sub", b.constLongs(c - 1), t), zero);
    Value lower = slice(b, nextRows, cut, b.constLongs(c), 3);
    lower = edgePad(b, lower, b.op("Max", b.op("Sub", b.op("Add", t, b.constLongs(1)), b.constLongs(c)), zero), zero);
    Value rows = b.op("Add", t, b.constLongs(1));
    Value view = b.concat(List.of(b.constLongs(0, 0), rows, t), 0);
    Value keys = b.op("Range", b.scalarLong(0), b.squeeze(t, 0), b.scalarLong(1));
    Value queries = b.op("Range", b.scalarLong(0), b.squeeze(rows, 0), b.scalarLong(1));
    Value atOrAfter = b.op("LessOrEqual", b.unsqueeze(queries, 1), b.unsqueeze(keys, 0));
    Value term = b.op("Where", atOrAfter, b.reshape(upper, view), b.reshape(lower, view));
    return extraRow ? term : slice(b, term, zero, t, 2);
  }

  /** Slice of one axis with run-time bounds ([1] each). */
  private static Value slice(OnnxBuilder b, Value x, Value start, Value end, long axis) {
    return b.op("Slice", List.of(x, start, end, b.constLongs(axis)), Attrs.of());
  }

  /** Edge padding of the last axis by {@code before} and {@code after} ([1] each). */
  private static Value edgePad(OnnxBuilder b, Value x, Value before, Value after) {
    Value pads = b.concat(List.of(b.constLongs(0, 0, 0), before, b.constLongs(0, 0, 0), after), 0);
    return b.op("Pad", List.of(x, pads), Attrs.of("mode", "edge"));
  }

  /** One more row at the end of axis 2 (a copy of the last), so that rows 1..T exist. */
  private static Value edgePadRows(OnnxBuilder b, Value x) {
    return b.op("Pad", List.of(x, b.constLongs(0, 0, 0, 0, 0, 0, 1, 0)), Attrs.of("mode", "edge"));
  }

  /** Eᵀ [d, 2c+1] (its columns reversed for {@code reversed}), computed when written. */
  private static Tensor transpose(Tensor e, boolean reversed) {
    int rows = (int) e.shape()[0], cols = (int) e.shape()[1];
    return Tensor.lazy(DType.FLOAT, new long[] {cols, rows}, () -> {
      FloatBuffer src = e.data().asFloatBuffer();
      ByteBuffer out = Tensor.alloc((long) rows * cols * 4);
      FloatBuffer dst = out.asFloatBuffer();
      for (int r = 0; r < rows; r++) {
        int to = reversed ? rows - 1 - r : r;
        for (int k = 0; k < cols; k++) dst.put(k * rows + to, src.get(r * cols + k));
      }
      return out;
    });
  }
}
