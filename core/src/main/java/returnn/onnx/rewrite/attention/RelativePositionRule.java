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
import returnn.onnx.ir.Dim;
import returnn.onnx.ir.Graph;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Shape;
import returnn.onnx.ir.Tensor;
import returnn.onnx.ir.Value;
import returnn.onnx.ops.Attrs;
import returnn.onnx.ops.OnnxBuilder;
import returnn.onnx.rewrite.RuleContext;
import returnn.onnx.rewrite.pattern.Match;
import returnn.onnx.rewrite.pattern.Matcher;
import returnn.onnx.rewrite.pattern.Pattern;
import returnn.onnx.rewrite.pattern.PatternRule;

/**
 * RETURNN's relative-position energy term ({@code key_shift} from a {@code relative_positional_encoding} layer,
 * rec.py SelfAttentionLayer): the encoding matrix E [2c+1, d] is gathered at {@code clip(j - i, -c, c) + c} into a
 * [T,T,d] tensor and multiplied with every query: T² · d numbers materialized and a batch of T skinny matrix
 * products. The same term is {@code P[i, clip(j - i) + c]} with {@code P = q · Eᵀ} [B,H,T,2c+1]: one small MatMul,
 * an edge Pad by T on both sides (which does the clipping) and a skew (row i of the result starts at distance -i:
 * flatten, slice from T + c, rows of width W - 1, keep T columns). Only contiguous copies, no per-element gather
 * (ONNX Runtime's Gather along the last axis copies element by element and was 15x slower).
 */
final class RelativePositionRule {
  static final String NAME = "AttentionRules.RELATIVE_POSITIONS";

  private static final Pattern.Op RANGE = op("Range", scalar(0), any("length"), scalar(1)).as("range");
  private static final Pattern DISTANCE = op("Sub",
      op("ExpandDims", RANGE, scalar("axis_a")), op("ExpandDims", RANGE, scalar("axis_b")));
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

  private RelativePositionRule() {}

  static PatternRule create() {
    return new PatternRule(NAME, Node.TF, PATTERN, RelativePositionRule::check, RelativePositionRule::rewrite);
  }

  private static String check(Match m, RuleContext ctx) {
    long c = (long) m.constant("hi").getDouble(0);
    if (c < 0 || m.constant("lo").getDouble(0) != -c || m.constant("shift").getDouble(0) != c) {
      return "indices are not clip(distance, -c, c) + c (lo " + m.constant("lo").getDouble(0) + ", hi "
          + m.constant("hi").getDouble(0) + ", shift " + m.constant("shift").getDouble(0) + ")";
    }
    Tensor e = m.constant("encoding_matrix");
    if (e.rank() != 2 || e.shape()[0] != 2 * c + 1 || e.dtype() != DType.FLOAT) {
      return "encoding matrix " + java.util.Arrays.toString(e.shape()) + " is not float [" + (2 * c + 1) + ", d]";
    }
    Node gather = m.node("gather");
    if (!gather.op().equals("ResourceGather")) {
      Value axis = gather.inputs().size() > 2 ? Matcher.resolve(gather.input(2)) : null;
      if (axis != null && (!axis.isConstant() || axis.constant().getLong(0) != 0)) return "the encoding is not gathered along axis 0";
    }
    if (sign(m) == 0) return "the distance is not between ExpandDims of axes 0 and 1";
    if (!rank(m.value("q_shape"), 3, e.shape()[1]) || !rank(m.value("term_shape"), 4, -1)) {
      return "q is not reshaped to [T, B·H, " + e.shape()[1] + "] and back to [T,B,H,T]";
    }
    return null;
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

  private static void rewrite(Match m, Graph g, RuleContext ctx) {
    Node root = m.rootNode();
    OnnxBuilder b = new OnnxBuilder(g, ctx.opset(), root.tfName() + "/relative", root.tfName());
    long c = (long) m.constant("hi").getDouble(0);
    Value q = AttentionEmitter.typed(m.value("q"), DType.FLOAT);
    // P[i, k] = q_i · E[k] ↔ distance k - c; for i - j distances the columns run the other way.
    Value p = b.op("MatMul", q, b.constant(transpose(m.constant("encoding_matrix"), sign(m) < 0)));
    Value t = b.slice(b.shapeOf(q), new long[] {2}, new long[] {3}, new long[] {0}, null);
    // Edge padding by T on both sides clips: P''[i, k] ↔ distance k - T - c, width W = 2T + 2c + 1. One more row
    // at the end keeps the last skewed row (which reads c past the last real row's end) inside the tensor.
    Value pads = b.concat(List.of(b.constLongs(0, 0, 0), t, b.constLongs(0, 0, 1), t), 0);
    Value padded = b.op("Pad", List.of(p, pads), Attrs.of("mode", "edge"));
    // Row i of the term starts at distance -i, flat index i·W + T + c - i: rows of W - 1 from offset T + c.
    Value flat = b.reshape(padded, b.constLongs(0, 0, -1));
    Value start = b.op("Add", t, b.constLongs(c));
    Value rowLength = b.op("Add", b.op("Mul", t, b.constLongs(2)), b.constLongs(2 * c));
    Value end = b.op("Add", start, b.op("Mul", t, rowLength));
    Value skew = b.op("Slice", List.of(flat, start, end, b.constLongs(2)), Attrs.of());
    Value rows = b.reshape(skew, b.concat(List.of(b.constLongs(0, 0), t, rowLength), 0));
    Value term = b.op("Slice", List.of(rows, b.constLongs(0), t, b.constLongs(3)), Attrs.of());
    term.setShape(Shape.of(Dim.UNKNOWN, Dim.UNKNOWN, Dim.UNKNOWN, Dim.UNKNOWN));
    g.replaceAllUses(m.root(), term);
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
