"""Writes the control-flow-v2 fixtures (frozen GraphDefs with a function library, as TF 2 writes them) that
verify/.../controlflow/FunctionalControlFlowTest reads, and core's table of TF op output arguments.

Run with the zoo's virtualenv (TensorFlow 2.15.1):  /work/venv/zoo/bin/python scripts/tf2-functional/gen.py
The Java tests need no Python: they run TensorFlow (TF Java) on these graphs as the reference.
"""
import os
import sys

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import convert_to_constants, op_def_registry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "verify/src/test/resources/functional")
OP_TABLE = os.path.join(ROOT, "core/src/main/resources/returnn/onnx/tf/op-output-args.txt")


def freeze(fn, *specs):
    concrete = tf.function(fn).get_concrete_function(*specs)
    # lower_control_flow=False keeps While/If functional (the default lowers them to TF1 Switch/Merge frames).
    frozen = convert_to_constants.convert_variables_to_constants_v2(concrete, lower_control_flow=False)
    return frozen.graph.as_graph_def(), [t.name for t in frozen.inputs], [t.name for t in frozen.outputs]


def write(name, gd, inputs, outputs):
    with open(os.path.join(OUT, name + ".pb"), "wb") as f:
        f.write(gd.SerializeToString())
    ops = sorted({n.op for n in gd.node})
    fops = sorted({n.op for fn in gd.library.function for n in fn.node_def})
    print(f"{name}: inputs {inputs} outputs {outputs}\n  graph ops {ops}\n  function ops {fops}")


def rename_ops(gd, old, new):
    for n in gd.node:
        if n.op == old:
            n.op = new
    for fn in gd.library.function:
        for n in fn.node_def:
            if n.op == old:
                n.op = new


def while_counter():
    """A counter and an accumulator; the trip count is fed."""
    def f(x, n):
        def cond(i, acc):
            return i < n

        def body(i, acc):
            return i + 1, acc * 0.5 + tf.tanh(x * tf.cast(i, tf.float32))

        i, acc = tf.while_loop(cond, body, (tf.constant(0), tf.zeros_like(x)))
        return {"acc": acc, "i": i}

    gd, ins, outs = freeze(f, tf.TensorSpec([None, 4], tf.float32, name="x"), tf.TensorSpec([], tf.int32, name="n"))
    write("while_counter", gd, ins, outs)
    # The same graph with the stateful op types: TF writes While/If where a body holds a stateful op; the semantics
    # (and the attributes) are those of StatelessWhile/StatelessIf.
    rename_ops(gd, "StatelessWhile", "While")
    write("while_counter_stateful", gd, ins, outs)


def while_max_iterations():
    """maximum_iterations fed (TF counts it in the loop counter, the condition's second conjunct)."""
    def f(x, m):
        i, acc = tf.while_loop(lambda i, acc: i < 100, lambda i, acc: (i + 1, tf.sin(acc) + x),
                               (tf.constant(0), x), maximum_iterations=m)
        return {"acc": acc, "i": i}

    gd, ins, outs = freeze(f, tf.TensorSpec([None, 3], tf.float32, name="x"), tf.TensorSpec([], tf.int32, name="m"))
    write("while_max_iterations", gd, ins, outs)


def while_nested():
    """A cond inside a while body and a while inside it: nested functional control flow."""
    def f(x):
        def body(i, acc):
            inner = tf.while_loop(lambda j, a: j < i, lambda j, a: (j + 1, a * 0.9 + 0.1), (0, acc))[1]
            step = tf.cond(i % 2 == 0, lambda: tf.tanh(inner + x), lambda: inner - 0.5 * x)
            return i + 1, step

        return {"acc": tf.while_loop(lambda i, acc: i < 4, body, (tf.constant(0), x))[1]}

    gd, ins, outs = freeze(f, tf.TensorSpec([None, 3], tf.float32, name="x"))
    write("while_nested", gd, ins, outs)


def partitioned_call():
    """A tf.function called from another: (Stateful)PartitionedCall nodes, not inlined (no freezing)."""
    @tf.function
    def g(x):
        return tf.tanh(x) * 2.0

    def f(x):
        return {"y": g(x) + g(x * 3.0)}

    concrete = tf.function(f).get_concrete_function(tf.TensorSpec([None, 4], tf.float32, name="x"))
    write("partitioned_call", concrete.graph.as_graph_def(), [t.name for t in concrete.inputs],
          [t.name for t in concrete.outputs])


def if_tensor():
    """tf.cond on a computed predicate, tensor branches of different ops, and a nested cond in one branch."""
    w = tf.constant(np.random.RandomState(1).randn(4, 3).astype(np.float32))

    def f(x):
        def then():
            return tf.matmul(x, w) * 2.0 + 1.0, tf.reduce_sum(x, axis=1)

        def other():
            inner = tf.cond(tf.reduce_max(x) > 1.0, lambda: tf.nn.relu(x), lambda: -x)
            return tf.tanh(tf.matmul(inner, w)), tf.reduce_max(x, axis=1)

        y, z = tf.cond(tf.reduce_sum(x) > 0.0, then, other)
        return {"y": y, "z": z}

    gd, ins, outs = freeze(f, tf.TensorSpec([None, 4], tf.float32, name="x"))
    write("if_tensor", gd, ins, outs)
    rename_ops(gd, "StatelessIf", "If")
    write("if_tensor_stateful", gd, ins, outs)


def dynamic_rnn(name, cell_fn, seq_len):
    """tf.compat.v1.nn.dynamic_rnn under control flow v2: a While whose loop variables carry TensorLists."""
    tf.random.set_seed(3)
    cell = cell_fn()
    specs = [tf.TensorSpec([None, None, 5], tf.float32, name="x")]
    if seq_len:
        specs.append(tf.TensorSpec([None], tf.int32, name="seq_len"))

    def f(x, lengths=None):
        y, state = tf.compat.v1.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
        return {"y": y, "c": state.c, "h": state.h}

    f(tf.zeros([1, 1, 5]), *([tf.ones([1], tf.int32)] if seq_len else []))
    gd, ins, outs = freeze(f, *specs)
    write(name, gd, ins, outs)


def keras_lstm():
    """A Keras LSTM layer as TF 2 graphs it (tf.function; PartitionedCall to the standard_lstm function)."""
    tf.random.set_seed(4)
    layer = tf.keras.layers.LSTM(6, return_sequences=True)

    def f(x):
        return {"y": layer(x)}

    f(tf.zeros([1, 1, 5]))
    gd, ins, outs = freeze(f, tf.TensorSpec([None, None, 5], tf.float32, name="x"))
    write("keras_lstm", gd, ins, outs)


class _RnnModule(tf.Module):
    """A TF 2 module: an RNN written with autograph (tf.range loop, TensorArray) and a tf.cond, variables captured."""

    def __init__(self):
        tf.random.set_seed(5)
        self.w = tf.Variable(tf.random.normal([3, 4]), name="w")
        self.u = tf.Variable(tf.random.normal([4, 4]) * 0.5, name="u")

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32, name="x")])
    def __call__(self, x):
        xs = tf.transpose(x, [1, 0, 2])
        ta = tf.TensorArray(tf.float32, size=tf.shape(xs)[0])
        h = tf.zeros([tf.shape(x)[0], 4])
        for t in tf.range(tf.shape(xs)[0]):
            h = tf.tanh(tf.matmul(xs[t], self.w) + tf.matmul(h, self.u))
            ta = ta.write(t, h)
        y = tf.transpose(ta.stack(), [1, 0, 2])
        return {"y": tf.cond(tf.reduce_sum(y) > 0, lambda: y * 2.0, lambda: y - 1.0)}


def saved_model():
    """tf.saved_model.save of a module: StatefulPartitionedCall with the variables as captured resource inputs, the
    checkpoint keyed by object path (w/.ATTRIBUTES/VARIABLE_VALUE)."""
    import shutil
    m = _RnnModule()
    path = os.path.join(OUT, "saved_model_rnn")
    shutil.rmtree(path, ignore_errors=True)
    tf.saved_model.save(m, path, signatures=m.__call__)
    shutil.rmtree(os.path.join(path, "assets"), ignore_errors=True)
    if os.path.exists(os.path.join(path, "fingerprint.pb")):
        os.remove(os.path.join(path, "fingerprint.pb"))
    print(f"saved_model_rnn: {sorted(os.listdir(path))}")


def op_output_args():
    """Every registered op with more than one output argument or a list output: how 'node:arg:i' maps to an index."""
    from tensorflow.python.client import pywrap_tf_session
    from tensorflow.core.framework import op_def_pb2
    ops = op_def_pb2.OpList()
    buf = pywrap_tf_session.TF_GetAllOpList()
    ops.ParseFromString(pywrap_tf_session.TF_GetBuffer(buf))
    lines = []
    for op in sorted(ops.op, key=lambda o: o.name):
        if len(op.output_arg) < 2:
            continue
        args = []
        for a in op.output_arg:
            if a.number_attr:
                args.append(f"{a.name}*{a.number_attr}")
            elif a.type_list_attr:
                args.append(f"{a.name}+{a.type_list_attr}")
            else:
                args.append(a.name)
        lines.append(op.name + " " + " ".join(args))
    os.makedirs(os.path.dirname(OP_TABLE), exist_ok=True)
    with open(OP_TABLE, "w") as f:
        f.write(f"# TF {tf.__version__} ops with several output arguments: name, then each argument in order "
                "(arg*N: N tensors, N an int attr; arg+T: one tensor per type in list attr T). "
                "Written by scripts/tf2-functional/gen.py.\n")
        f.write("\n".join(lines) + "\n")
    print(f"{OP_TABLE}: {len(lines)} ops")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    what = sys.argv[1:] or ["ops", "while", "if", "rnn", "keras", "savedmodel"]
    if "ops" in what:
        op_output_args()
    if "while" in what:
        while_counter()
        while_max_iterations()
        while_nested()
        partitioned_call()
    if "if" in what:
        if_tensor()
    if "rnn" in what:
        dynamic_rnn("dynamic_rnn_lstm", lambda: tf.compat.v1.nn.rnn_cell.LSTMCell(6), False)
        dynamic_rnn("dynamic_rnn_lstm_seqlen", lambda: tf.compat.v1.nn.rnn_cell.LSTMCell(6), True)
    if "keras" in what:
        keras_lstm()
    if "savedmodel" in what:
        saved_model()
