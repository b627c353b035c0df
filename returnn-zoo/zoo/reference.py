"""Runs one zoo graph in TensorFlow and records the reference: fixed padded inputs and the outputs.

RETURNN's native ops (NativeLstm2, ...) are compiled and loaded by RETURNN's own code (g++) before graph.meta is
imported, so TensorFlow runs the real kernels, never a twin. Variables are restored from the RETURNN checkpoint.
Writes inputs/*.npy, outputs/*.npy and reference.json (manifest fields) into the model folder (the working dir).
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf


def npy_name(tf_name):
    return tf_name.replace("/", "__").replace(":", "_") + ".npy"


def load_native_ops(graph_def):
    """Registers every RETURNN native op the graph uses (compiled by RETURNN's OpMaker)."""
    import returnn.native_op as native_op_defs
    from returnn.tf import native_op

    used = {n.op for n in graph_def.node}
    for f in graph_def.library.function:
        used |= {n.op for n in f.node_def}
    loaded = []
    for name in sorted(used):
        cls = getattr(native_op_defs, name, None)
        if isinstance(cls, type) and issubclass(cls, native_op_defs.NativeOpGenBase):
            native_op.make_op(cls)
            loaded.append(name)
    return loaded


def make_inputs(spec, rng):
    lengths = spec["lengths"]
    b, t = len(lengths), max(lengths)
    feeds = {}
    for key, inp in spec["inputs"].items():
        ph = inp.get("placeholder", "extern_data/placeholders/%s/%s" % (key, key))
        if inp["kind"] == "sparse":
            x = rng.randint(inp.get("low", 0), inp["dim"], size=(b, t)).astype("int32")
        else:
            x = rng.normal(size=(b, t, inp["dim"])).astype("float32")
        for i, n in enumerate(lengths):
            x[i, n:] = 0  # padding, as RETURNN's batches have it
        feeds[ph] = x
        if inp.get("lengths", True):
            feeds[ph + "_dim0_size"] = np.array(lengths, dtype="int32")
    for ph, dim in spec.get("state_zeros", {}).items():
        # RETURNN's "initial_state": "placeholder" has no default. dim: the state's size ([B, dim], an LSTM's h/c),
        # or its shape without the batch dim (self-attention k/v: [heads, 0, d], an empty history)
        shape = (b,) + (tuple(dim) if isinstance(dim, (list, tuple)) else (dim,))
        feeds[ph] = np.zeros(shape, dtype="float32")
    return feeds


def run_chunked(session, graph, feeds, output, lengths, chunk):
    """TF over the time axis in chunks, each chunk's last_state_X fed back as initial_state_placeholder_X.

    For models whose chunked run differs from their full run in RETURNN itself (positional_encoding restarts at 0 in
    every call), this is the reference a chunked ONNX run must meet.
    """
    states = {k: v for k, v in feeds.items() if "initial_state_placeholder_" in k}
    data = {k: v for k, v in feeds.items() if k not in states and not k.endswith("_dim0_size")}
    time = max(lengths)
    outs = []
    for t0 in range(0, time, chunk):
        t1 = min(time, t0 + chunk)
        f = dict(states)
        for k, v in data.items():
            f[k] = v[:, t0:t1]
            if k + "_dim0_size" in feeds:
                f[k + "_dim0_size"] = np.clip(np.array(lengths) - t0, 0, t1 - t0).astype("int32")
        names = [output] + [k.replace("initial_state_placeholder_", "last_state_") for k in states]
        values = session.run([graph.get_tensor_by_name(n + ":0") for n in names],
                             feed_dict={graph.get_tensor_by_name(k + ":0"): v for k, v in f.items()})
        outs.append(values[0])
        states = dict(zip(states.keys(), values[1:]))
    return np.concatenate(outs, axis=1)


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    m = job["model"]
    zoo = job["zoo"]
    name = m["name"]
    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.disable_control_flow_v2()
    meta = tf.compat.v1.MetaGraphDef()
    with open(os.path.join(zoo, job["graph"]), "rb") as f:
        meta.ParseFromString(f.read())
    native = load_native_ops(meta.graph_def)
    rng = np.random.RandomState(m.get("seed", 1234))
    feeds = make_inputs(m["inputs"], rng)
    outputs = m.get("outputs", ["output/output_batch_major"])
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        var_list = [v for v in tf.compat.v1.global_variables()]
        saver = tf.compat.v1.train.Saver(var_list=var_list)
        cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        with tf.compat.v1.Session(graph=graph, config=cfg) as session:
            saver.restore(session, os.path.join(zoo, job["checkpoint"]))
            fetches = [graph.get_tensor_by_name(o if ":" in o else o + ":0") for o in outputs]
            feed_dict = {graph.get_tensor_by_name(k + ":0"): v for k, v in feeds.items()}
            values = session.run(fetches, feed_dict=feed_dict)
            chunked = None
            if m.get("state", {}).get("tf_chunked"):
                chunked = run_chunked(session, graph, feeds, outputs[0], m["inputs"]["lengths"], m["state"]["chunk"])
    os.makedirs("inputs", exist_ok=True)
    os.makedirs("outputs", exist_ok=True)
    result = {"native_ops": native, "lengths": m["inputs"]["lengths"], "inputs": {}, "outputs": {}}
    for k, v in feeds.items():
        path = os.path.join("inputs", npy_name(k))
        np.save(path, v)
        result["inputs"][k] = {"file": "models/%s/%s" % (name, path), "dtype": str(v.dtype), "shape": list(v.shape)}
    for k, v in zip(outputs, values):
        path = os.path.join("outputs", npy_name(k))
        np.save(path, v)
        entry = {"file": "models/%s/%s" % (name, path), "dtype": str(v.dtype), "shape": list(v.shape)}
        if v.dtype.kind == "f":
            entry["max_abs"] = float(np.max(np.abs(v))) if v.size else 0.0
            assert np.all(np.isfinite(v)), "%s: non-finite reference output %s" % (name, k)
        result["outputs"][k] = entry
    if chunked is not None:
        path = os.path.join("outputs", "chunked__" + npy_name(outputs[0]))
        np.save(path, chunked)
        result["chunked_outputs"] = {outputs[0]: {"file": "models/%s/%s" % (name, path), "dtype": str(chunked.dtype),
                                                  "shape": list(chunked.shape), "chunk": m["state"]["chunk"]}}
    with open("reference.json", "w") as f:
        json.dump(result, f)
    print("reference: %s: %s" % (name, {k: v["shape"] for k, v in result["outputs"].items()}))


if __name__ == "__main__":
    main()
