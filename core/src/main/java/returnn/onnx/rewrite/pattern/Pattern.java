package returnn.onnx.rewrite.pattern;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import returnn.onnx.ir.Attr;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Node;
import returnn.onnx.ir.Tensor;

/**
 * A typed pattern over the values of a graph, matched by {@link Matcher}. Leaves bind names to values ({@link #any},
 * {@link #constant}); {@link Op} matches the node producing a value and, recursively, its inputs.
 *
 * <pre>{@code
 * Pattern scaled = Pattern.op("Mul", Pattern.any("x"), Pattern.constant("scale")).commutative();
 * Pattern.Op split = Pattern.op("SplitV", Pattern.any("qkv")).as("split");   // one node, used twice below
 * Pattern qk = Pattern.op("BatchMatMulV2", split.output(0), split.output(1)).attr("adj_y", true);
 * }</pre>
 *
 * A name bound twice must bind the same value (or node) both times. Patterns are immutable; modifiers return copies.
 */
public abstract sealed class Pattern permits Pattern.Any, Pattern.Const, Pattern.Op, Pattern.Either {
  Pattern() {}

  /** Any value, bound to {@code name}. */
  public static Pattern any(String name) {
    return new Any(name);
  }

  /** Any value, not bound. */
  public static Pattern any() {
    return new Any(null);
  }

  /** A constant (initializer or imported TF Const / variable), bound to {@code name}. */
  public static Pattern constant(String name) {
    return new Const(name, "a constant", t -> true);
  }

  /** A one-element constant equal to {@code value} (relative tolerance 1e-6; infinities compare exactly). */
  public static Pattern scalar(double value) {
    return new Const(null, "the constant " + value, t -> numericScalar(t) && close(t.getDouble(0), value));
  }

  /** A one-element constant, bound to {@code name}. */
  public static Pattern scalar(String name) {
    return new Const(name, "a one-element constant", Pattern::numericScalar);
  }

  /** An integer constant holding exactly {@code values} (e.g. a permutation). */
  public static Pattern ints(long... values) {
    long[] want = values.clone();
    return new Const(null, "the constant " + Arrays.toString(want),
        t -> t.dtype().isInteger() && Arrays.equals(t.toLongs(), want));
  }

  /**
   * The node producing a value, of one of {@code types} ({@code "AddV2|Add"}), in the matcher's dialect. Its first
   * inputs match {@code inputs} in order; further inputs are not constrained.
   */
  public static Op op(String types, Pattern... inputs) {
    return new Op(Set.of(types.split("\\|")), List.of(inputs), false, null, 0, List.of(), false);
  }

  /** The first alternative that matches (with backtracking into later ones if the rest of the pattern fails). */
  public static Pattern either(Pattern... alternatives) {
    return new Either(List.of(alternatives));
  }

  /** {@code types(input)} or just {@code input}: an op that may be absent (e.g. a Cast that is there or not). */
  public static Pattern optional(String types, Pattern input) {
    return either(op(types, input), input);
  }

  /** A constant passing {@code test}; {@code description} says what is expected, for decline reasons. */
  public static Pattern constant(String name, String description, Predicate<Tensor> test) {
    return new Const(name, description, test);
  }

  /** A one-element number or bool (true = 1). */
  static boolean numericScalar(Tensor t) {
    return t.size() == 1 && (t.dtype().isFloating() || t.dtype().isInteger() || t.dtype() == DType.BOOL);
  }

  static boolean close(double a, double b) {
    if (a == b) return true;
    if (Double.isInfinite(a) || Double.isInfinite(b) || Double.isNaN(a) || Double.isNaN(b)) return false;
    return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
  }

  /** Any value, optionally bound. */
  static final class Any extends Pattern {
    final String name;

    Any(String name) {
      this.name = name;
    }
  }

  /** A constant value passing {@code test}, optionally bound. */
  static final class Const extends Pattern {
    final String name;
    final String description;
    final Predicate<Tensor> test;

    Const(String name, String description, Predicate<Tensor> test) {
      this.name = name;
      this.description = description;
      this.test = test;
    }
  }

  /** Alternatives, tried in order. */
  static final class Either extends Pattern {
    final List<Pattern> alternatives;

    Either(List<Pattern> alternatives) {
      this.alternatives = alternatives;
    }
  }

  /** A condition on a matched node, with what it expects (for decline reasons). */
  record Condition(String expects, Predicate<Node> test) {}

  /** An op node producing the value. */
  public static final class Op extends Pattern {
    final Set<String> types;
    final List<Pattern> inputs;
    final boolean commutative;
    final String bind;
    final int output;
    final List<Condition> conditions;
    final boolean anchor;

    Op(Set<String> types, List<Pattern> inputs, boolean commutative, String bind, int output, List<Condition> conditions,
        boolean anchor) {
      this.types = types;
      this.inputs = inputs;
      this.commutative = commutative;
      this.bind = bind;
      this.output = output;
      this.conditions = conditions;
      this.anchor = anchor;
    }

    /** Inputs 0 and 1 may come in either order (tried once each, not written as two patterns). */
    public Op commutative() {
      return new Op(types, inputs, true, bind, output, conditions, anchor);
    }

    /** Binds the node to {@code name}; a second occurrence of the same name must be the same node. */
    public Op as(String name) {
      return new Op(types, inputs, commutative, name, output, conditions, anchor);
    }

    /** The value must be output {@code k} of the node (default 0). */
    public Op output(int k) {
      return new Op(types, inputs, commutative, bind, k, conditions, anchor);
    }

    /**
     * Once this node has matched, the candidate counts as real: if the rest of the pattern then fails, the rule
     * reports why (shown by {@code convert --explain-fusions}). Without an anchor only failed checks are reported.
     */
    public Op anchor() {
      return new Op(types, inputs, commutative, bind, output, conditions, true);
    }

    /** Attribute {@code key} equals {@code expected} (Boolean, Long/Integer, String, long[]); a missing bool is false. */
    public Op attr(String key, Object expected) {
      return where(key + "=" + (expected instanceof long[] l ? Arrays.toString(l) : expected),
          n -> attrEquals(n.attr(key), expected));
    }

    /** A further condition on the node; {@code expects} describes it for decline reasons. */
    public Op where(String expects, Predicate<Node> test) {
      List<Condition> c = new ArrayList<>(conditions);
      c.add(new Condition(expects, test));
      return new Op(types, inputs, commutative, bind, output, List.copyOf(c), anchor);
    }

    String typeNames() {
      return String.join("|", types.stream().sorted().toList());
    }

    private static boolean attrEquals(Attr a, Object expected) {
      if (expected instanceof Boolean b) {
        if (a == null) return !b;
        return (a instanceof Attr.Bool v && v.value() == b) || (a instanceof Attr.Int i && (i.value() != 0) == b);
      }
      if (expected instanceof Integer i) return a instanceof Attr.Int v && v.value() == i;
      if (expected instanceof Long l) return a instanceof Attr.Int v && v.value() == l;
      if (expected instanceof String s) return a instanceof Attr.Str v && v.value().equals(s);
      if (expected instanceof long[] l) return a instanceof Attr.Ints v && Arrays.equals(v.values(), l);
      throw new IllegalArgumentException("attribute condition on " + expected);
    }
  }
}
