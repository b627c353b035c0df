"""Times TensorFlow running a zoo model's RETURNN search graph (the baseline for `returnn-onnx decode --repeat`):
one thread (intra- and inter-op), the recorded inputs, the recorded search outputs fetched, median of N runs after
one warm-up run. Usage: time_search.py MODEL [N] [GRAPH]  (GRAPH: a graph file in the model folder, default the
reference graph; e.g. search_beam1.meta for another beam size, if it was generated)."""

import json
import os
import sys
import time

import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
ZOO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from reference import load_native_ops  # noqa: E402


def main():
    name = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    with open(os.path.join(ZOO, "models", name, "entry.json")) as f:
        entry = json.load(f)
    graph_file = os.path.join(ZOO, "models", name, sys.argv[3]) if len(sys.argv) > 3 else os.path.join(ZOO, entry["graph"])
    if not os.path.exists(graph_file):
        graph_file = os.path.join(ZOO, "work", name, os.path.basename(graph_file))
    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.disable_control_flow_v2()
    meta = tf.compat.v1.MetaGraphDef()
    with open(graph_file, "rb") as f:
        meta.ParseFromString(f.read())
    load_native_ops(meta.graph_def)
    outputs = [o for o in entry["outputs"] if not o.startswith("encoder/")]
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        saver = tf.compat.v1.train.Saver(var_list=tf.compat.v1.global_variables())
        cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        with tf.compat.v1.Session(graph=graph, config=cfg) as session:
            saver.restore(session, os.path.join(ZOO, entry["checkpoint"]))
            feeds = {graph.get_tensor_by_name(k + ":0"): np.load(os.path.join(ZOO, v["file"]))
                     for k, v in entry["inputs"].items()}
            fetches = [graph.get_tensor_by_name(o + ":0") for o in outputs]
            session.run(fetches, feeds)
            ms = []
            for _ in range(n):
                t0 = time.perf_counter()
                session.run(fetches, feeds)
                ms.append((time.perf_counter() - t0) * 1e3)
    print("%s: TF search graph %s, 1 thread: median %.2f ms of %d runs" % (
        name, os.path.basename(graph_file), float(np.median(ms)), n))


if __name__ == "__main__":
    main()
