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


def step_by_step_reference(zoo, m, checkpoint, feeds):
    """Greedy decoding over a --rec_step_by_step graph, driven as RETURNN's step-by-step protocol says (state in the
    IO/ variables): encode_ops (init_op) with the input feeds; the choice variable starts at the choice layer's
    initial_output 0; then per step: assign IO/i = step (compiled without update_i_in_graph), run update_ops (the
    delayed updates from the previous choice; RETURNN only applies them when i > 0), run decode_ops (scores + state
    update), read the scores variable (log probs [B, V]), assign the argmax to the choice variable.
    Returns (labels [B, steps] int32, scores [steps, B, V] float32)."""
    spec = m["step_by_step"]
    name = m["name"]
    with open(os.path.join(zoo, "models", name, spec["info"])) as f:
        info = json.load(f)
    meta = tf.compat.v1.MetaGraphDef()
    with open(os.path.join(zoo, "models", name, spec["graph"]), "rb") as f:
        meta.ParseFromString(f.read())
    load_native_ops(meta.graph_def)
    (stoch,) = info["stochastic_var_order"]  # one choice layer
    var_op = {k: v["var_op"] for k, v in info["state_vars"].items()}
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        # every checkpointed variable: the trainable ones and e.g. batch_norm's running mean/variance (not the IO/
        # state variables, which init_op assigns)
        saver = tf.compat.v1.train.Saver(var_list=[v for v in tf.compat.v1.global_variables()
                                                   if not v.op.name.startswith("IO/")])
        variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
        i_var, choice_var = variables[var_op["i"]], variables[var_op["stochastic_var_choice_" + stoch]]
        scores_var = variables[var_op["stochastic_var_scores_" + stoch]]
        cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        with tf.compat.v1.Session(graph=graph, config=cfg) as session:
            saver.restore(session, os.path.join(zoo, checkpoint))
            session.run(info["init_op"], {graph.get_tensor_by_name(k + ":0"): v for k, v in feeds.items()})
            batch = len(m["inputs"]["lengths"])
            choice_var.load(np.zeros([batch], "int32"), session)
            # "update_ops" is TF's GraphKeys.UPDATE_OPS: besides the rec layer's delayed state update it holds every
            # batch_norm layer's (at inference empty) update group, whose control dependencies recompute the encoder
            # from the input placeholders; the driver runs the rec layer's own updates only
            update_ops = [o for o in graph.get_collection("update_ops") if o.name.startswith(spec.get("rec", "output") + "/rec/")]
            labels, scores = [], []
            for step in range(spec["steps"]):
                i_var.load(step, session)
                session.run(update_ops)
                session.run(graph.get_collection("decode_ops"))
                sc = session.run(scores_var.value())
                choice = sc.argmax(axis=-1).astype("int32")
                choice_var.load(choice, session)
                labels.append(choice)
                scores.append(sc)
    return np.stack(labels, axis=1), np.stack(scores, axis=0).astype("float32")


def chunked_run(m, graph, session, feeds, outputs, fetches):
    """The state variant run chunk by chunk in TF: the padded batch cut into chunks of m["chunked"]["chunk"] frames,
    each fed with lengths = its width for every sequence (the padding frames are computed as in the full run), the
    initial-state placeholders fed with the previous chunk's last_state_* (zeros first). Returns the outputs
    concatenated over time (the first output; the states of the last chunk)."""
    c = m["chunked"]["chunk"]
    (data_key,) = m["inputs"]["inputs"]
    ph = m["inputs"]["inputs"][data_key].get("placeholder", "extern_data/placeholders/%s/%s" % (data_key, data_key))
    x = feeds[ph]
    states = {k: v for k, v in feeds.items() if "initial_state_placeholder" in k}
    pieces = []
    for t0 in range(0, x.shape[1], c):
        xc = x[:, t0:t0 + c]
        feed = dict(states)
        feed[ph] = xc
        feed[ph + "_dim0_size"] = np.full([x.shape[0]], xc.shape[1], dtype="int32")
        vals = dict(zip(outputs, session.run(fetches, feed_dict={graph.get_tensor_by_name(k + ":0"): v
                                                                 for k, v in feed.items()})))
        pieces.append(vals[outputs[0]])
        for k in states:
            states[k] = vals[k.replace("initial_state_placeholder", "last_state")]
    res = {outputs[0]: np.concatenate(pieces, axis=1)}
    res.update({k.replace("initial_state_placeholder", "last_state"): v for k, v in states.items()})
    return res


def extra_reference(zoo, m, key, checkpoint, feeds):
    """Another compiled graph of the same model (e.g. the search graph with another beam size) run by TF on the same
    feeds and checkpoint: returns (graph file, outputs name -> value)."""
    spec = m["extra_references"][key]
    meta = tf.compat.v1.MetaGraphDef()
    path = os.path.join(zoo, "models", m["name"], spec["graph"])
    with open(path, "rb") as f:
        meta.ParseFromString(f.read())
    load_native_ops(meta.graph_def)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        saver = tf.compat.v1.train.Saver(var_list=tf.compat.v1.global_variables())
        cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        with tf.compat.v1.Session(graph=graph, config=cfg) as session:
            saver.restore(session, os.path.join(zoo, checkpoint))
            fetches = [graph.get_tensor_by_name(o if ":" in o else o + ":0") for o in spec["outputs"]]
            values = session.run(fetches, {graph.get_tensor_by_name(k + ":0"): v for k, v in feeds.items()})
    return spec["graph"], dict(zip(spec["outputs"], values))


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
            chunked = chunked_run(m, graph, session, feeds, outputs, fetches) if "chunked" in m else None
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
        ch = {"chunk": m["chunked"]["chunk"], "chunk_lengths": "the chunk's width for every sequence", "outputs": {}}
        for k, v in chunked.items():
            path = os.path.join("outputs", "chunked__" + npy_name(k))
            np.save(path, v)
            assert np.all(np.isfinite(v)), "%s: non-finite chunked output %s" % (name, k)
            ch["outputs"][k] = {"file": "models/%s/%s" % (name, path), "dtype": str(v.dtype), "shape": list(v.shape)}
        result["chunked"] = ch
    if "step_by_step" in m:
        labels, scores = step_by_step_reference(zoo, m, job["checkpoint"], feeds)
        assert np.all(np.isfinite(scores)), "%s: non-finite step-by-step scores" % name
        sbs = {"graph": "models/%s/%s" % (name, m["step_by_step"]["graph"]),
               "info": "models/%s/%s" % (name, m["step_by_step"]["info"]), "decoder": "greedy",
               "steps": m["step_by_step"]["steps"]}
        for k in ("encoder_output_state", "note"):  # the registry's word on which state holds the encoder output
            if k in m["step_by_step"]:
                sbs[k] = m["step_by_step"][k]
        for key, v in (("labels", labels), ("scores", scores)):
            path = os.path.join("outputs", "step_by_step__%s.npy" % key)
            np.save(path, v)
            sbs[key] = {"file": "models/%s/%s" % (name, path), "dtype": str(v.dtype), "shape": list(v.shape)}
        result["step_by_step"] = sbs
    for key in m.get("extra_references", {}):
        gfile, vals = extra_reference(zoo, m, key, job["checkpoint"], feeds)
        ex = {"graph": "models/%s/%s" % (name, gfile), "outputs": {}}
        for k, v in vals.items():
            path = os.path.join("outputs", "%s__%s" % (key, npy_name(k)))
            np.save(path, v)
            assert v.dtype.kind != "f" or np.all(np.isfinite(v)), "%s: non-finite %s output %s" % (name, key, k)
            ex["outputs"][k] = {"file": "models/%s/%s" % (name, path), "dtype": str(v.dtype), "shape": list(v.shape)}
        result.setdefault("extra_references", {})[key] = ex
    with open("reference.json", "w") as f:
        json.dump(result, f)
    print("reference: %s: %s" % (name, {k: v["shape"] for k, v in result["outputs"].items()}))


if __name__ == "__main__":
    main()
