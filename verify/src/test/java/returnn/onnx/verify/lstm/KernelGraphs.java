package returnn.onnx.verify.lstm;

import java.util.ArrayList;
import java.util.List;
import returnn.onnx.fixtures.Fixture;
import returnn.onnx.fixtures.GraphDefBuilder;
import returnn.onnx.fixtures.Input;
import returnn.onnx.fixtures.ReturnnLayers;
import returnn.onnx.fixtures.TfOps;
import returnn.onnx.fixtures.VariableKind;
import returnn.onnx.fixtures.Variables;
import returnn.onnx.fixtures.lstm.LstmLayers;
import returnn.onnx.ir.DType;

/**
 * One-layer graphs around a single RETURNN LSTM kernel, small (T ≤ 7, B = 3, F = 5, n = 4):
 * <ul>
 *   <li>{@link #bare}: every kernel input a placeholder (weights, mask, start and step too), so nothing can fuse;
 *   <li>{@link Layer}: the kernel as RETURNN's rec layer builds it (projection, mask from lengths, zero or
 *       placeholder initial states), as a {@link Fixture} with a checkpoint.
 * </ul>
 */
final class KernelGraphs {
  static final int FEATURES = 5;
  static final int HIDDEN = 4;

  private KernelGraphs() {}

  /** Output names of a kernel node, in the kernel's output order. */
  static List<String> outputs(String op) {
    return switch (op) {
      case "NativeLstm2" -> List.of("y", "c", "h", "d");
      case "LstmGenericBase" -> List.of("y", "h", "d");
      case "LstmLowMem" -> List.of("y", "c", "d");
      default -> throw new IllegalArgumentException(op);
    };
  }

  /** Input names of a kernel node, in order (placeholders of {@link #bare}). */
  static List<String> inputs(String op) {
    return switch (op) {
      case "NativeLstm2" -> List.of("x", "w", "y0", "c0", "i", "start", "step");
      case "LstmGenericBase" -> List.of("z", "v_h", "c", "i");
      case "LstmLowMem" -> List.of("x", "w", "b", "y0", "c0", "i", "start", "step");
      default -> throw new IllegalArgumentException(op);
    };
  }

  /** {@code op} on placeholders named as its inputs; outputs are Identities named as its outputs. */
  static org.tensorflow.proto.GraphDef bare(String op) {
    GraphDefBuilder b = new GraphDefBuilder();
    List<String> ins = new ArrayList<>();
    for (String in : inputs(op)) {
      boolean scalar = in.equals("start") || in.equals("step");
      ins.add(scalar ? b.placeholder(in, DType.INT32).name() : b.placeholder(in, DType.FLOAT, (long[]) null).name());
    }
    GraphDefBuilder.Node n = b.op(op, "lstm", ins.toArray(String[]::new));
    List<String> outs = outputs(op);
    for (int i = 0; i < outs.size(); i++) {
      n.outType(i, DType.FLOAT);
      b.op("Identity", outs.get(i), n.out(i)).attr("T", DType.FLOAT);
    }
    return b.build();
  }

  /** What the one-layer RETURNN graph looks like. */
  enum Variant {
    /** Zero initial states, outputs y (batch major) and the final c. */
    PLAIN,
    /** Initial states from placeholders; also fetches the final h and c (streaming). */
    STATE_IO,
    /** Also fetches the gate activations of NativeLstm2 (ONNX LSTM has none: must not fuse). */
    GATES_FETCHED,
    /** The mask is a float placeholder [T,B], not derived from lengths (must not fuse). */
    MASK_PLACEHOLDER,
    /** The projected input is fetched too, so the projection cannot fold (fuses with x as it is). */
    PROJECTION_SHARED
  }

  /** A RETURNN rec layer {@code lstm} with unit NativeLstm2 ("nativelstm2"), LstmLowMem or LstmGenericBase. */
  static final class Layer {
    final GraphDefBuilder b = new GraphDefBuilder();
    final Variables vars = new Variables(b, VariableKind.RESOURCE, 5);
    final ReturnnLayers layers = new ReturnnLayers(b, vars);
    final TfOps tf = layers.ops();
    final List<Input> inputs = new ArrayList<>();
    final List<String> fetches = new ArrayList<>();

    Fixture build(String op, int step, Variant v) {
      ReturnnLayers.DataKey data = layers.denseInput("data", FEATURES);
      inputs.add(new Input(data.data(), DType.FLOAT, new long[] {-1, -1, FEATURES}, Input.Kind.DENSE, 0));
      inputs.add(new Input(data.lengths(), DType.INT32, new long[] {-1}, Input.Kind.LENGTHS, 0));
      LstmLayers lstm = new LstmLayers(b, vars, layers);
      String time;
      try (var s = b.scope("extern_data/placeholders/data")) {
        time = tf.index(tf.shape(data.data()), 1);
      }
      String mask = v == Variant.MASK_PLACEHOLDER ? b.placeholder("mask", DType.FLOAT, -1, -1).name()
          : lstm.timeMajorMask("extern_data/placeholders/data", data.lengths(), time);
      String x = lstm.timeMajor("lstm", data.data());
      String h0 = v == Variant.STATE_IO ? state("h") : null;
      String c0 = v == Variant.STATE_IO ? state("c") : null;
      String y;
      switch (op) {
        case "NativeLstm2" -> {
          LstmLayers.Rec r = lstm.nativeLstm2("lstm", x, FEATURES, HIDDEN, step, mask, h0, c0);
          y = r.y();
          fetch("final_c", r.finalC());
          if (v == Variant.STATE_IO) fetch("final_h", r.finalH());
          if (v == Variant.GATES_FETCHED) fetch("gates", "lstm/rec/NativeLstm2:2");
          if (v == Variant.PROJECTION_SHARED) fetch("projected", "lstm/rec/add");
        }
        case "LstmLowMem" -> y = lowMem(x, step, mask, h0, c0);
        case "LstmGenericBase" -> y = genericBase(x, mask, c0);
        default -> throw new IllegalArgumentException(op);
      }
      fetches.add(0, tf.identity("y_batch_major", tf.transpose(y, 1, 0, 2)) + ":0");
      return new Fixture(op + "_" + v, VariableKind.RESOURCE, b.build(), List.copyOf(inputs), List.copyOf(fetches),
          vars.checkpointValues());
    }

    /**
     * A fw/bw NativeLstm2 pair over the same input, each with its own state placeholders: fetches their concatenation
     * (batch major) and all four final states.
     */
    Fixture pairWithStates() {
      ReturnnLayers.DataKey data = layers.denseInput("data", FEATURES);
      inputs.add(new Input(data.data(), DType.FLOAT, new long[] {-1, -1, FEATURES}, Input.Kind.DENSE, 0));
      inputs.add(new Input(data.lengths(), DType.INT32, new long[] {-1}, Input.Kind.LENGTHS, 0));
      LstmLayers lstm = new LstmLayers(b, vars, layers);
      String time;
      try (var s = b.scope("extern_data/placeholders/data")) {
        time = tf.index(tf.shape(data.data()), 1);
      }
      String mask = lstm.timeMajorMask("extern_data/placeholders/data", data.lengths(), time);
      String[] y = new String[2];
      for (int d = 0; d < 2; d++) {
        String layer = d == 0 ? "lstm_fw" : "lstm_bw";
        String h0 = state(layer, "h");
        String c0 = state(layer, "c");
        LstmLayers.Rec r = lstm.nativeLstm2(layer, lstm.timeMajor(layer, data.data()), FEATURES, HIDDEN, d == 0 ? 1 : -1,
            mask, h0, c0);
        y[d] = r.y();
        fetch(layer + "_final_h", r.finalH());
        fetch(layer + "_final_c", r.finalC());
      }
      String concat = b.op("ConcatV2", "concat", y[0], y[1], tf.scalarInt("concat/axis", -1)).attr("T", DType.FLOAT)
          .attr("N", 2L).attr("Tidx", DType.INT32).outType(DType.FLOAT).name();
      fetches.add(0, tf.identity("y_batch_major", tf.transpose(concat, 1, 0, 2)) + ":0");
      return new Fixture("pair_with_states", VariableKind.RESOURCE, b.build(), List.copyOf(inputs),
          List.copyOf(fetches), vars.checkpointValues());
    }

    /** NativeLstmLowMemCell: W [in+n,4n] and b inside the op, zeros initial_c/initial_h unless given. */
    private String lowMem(String x, int step, String mask, String h0, String c0) {
      String w = vars.weight("lstm/rec/W", FEATURES + HIDDEN, 4 * HIDDEN);
      String bias = vars.weight("lstm/rec/b", 4 * HIDDEN);
      try (var s = b.scope("lstm/rec")) {
        String m = tf.cast(mask, DType.FLOAT);
        String batch = tf.index(tf.shape(x), 1);
        String c = c0 != null ? c0 : zeros(batch);
        String h = h0 != null ? h0 : zeros(batch);
        GraphDefBuilder.Node n = b.op("LstmLowMem", "LstmLowMem", x, w, bias, h, c, m, tf.scalarInt("start", 0),
            tf.scalarInt("step", step));
        for (int i = 0; i < 3; i++) n.outType(i, DType.FLOAT);
        fetch("final_c", n.out(2));
        return n.out(0);
      }
    }

    /** NativeLstmCell (LstmGenericBase): the rec layer's projection, then Z, W_re, c0 (zeros unless given). */
    private String genericBase(String x, String mask, String c0) {
      String w = vars.weight("lstm/rec/W", FEATURES, 4 * HIDDEN);
      String bias = vars.weight("lstm/rec/b", 4 * HIDDEN);
      String wRe = vars.weight("lstm/rec/W_re", HIDDEN, 4 * HIDDEN);
      try (var s = b.scope("lstm/rec")) {
        String z = tf.add(layers.dot(x, w, FEATURES, 4 * HIDDEN), bias);
        String m = tf.cast(mask, DType.FLOAT);
        String c = c0 != null ? c0 : zeros(tf.index(tf.shape(z), 1));
        GraphDefBuilder.Node n = b.op("LstmGenericBase", "LstmGenericBase", z, wRe, c, m);
        for (int i = 0; i < 3; i++) n.outType(i, DType.FLOAT);
        fetch("final_c", n.out(2));
        return n.out(0);
      }
    }

    private String zeros(String batch) {
      String shape = tf.pack("zeros/packed", List.of(batch, HIDDEN));
      return b.op("Fill", "zeros", shape, tf.scalarFloat("zeros/Const", 0f)).attr("T", DType.FLOAT)
          .attr("index_type", DType.INT32).outType(DType.FLOAT).name();
    }

    private String state(String key) {
      return state("lstm", key);
    }

    private String state(String layer, String key) {
      try (var s = b.scope(layer + "/rec")) {
        String p = b.placeholder("initial_state_placeholder_" + key, DType.FLOAT, -1, HIDDEN).name();
        inputs.add(new Input(p, DType.FLOAT, new long[] {-1, HIDDEN}, Input.Kind.STATE, 0));
        return p;
      }
    }

    private void fetch(String name, String tensor) {
      fetches.add(tf.identity(name, tensor) + ":0");
    }
  }
}
