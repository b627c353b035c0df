"""Writes the RETURNN zoo (see ../README.md): for each model of registry.MODELS

1. models/NAME/returnn.config: the user's config from configs/ (network dict as users write it), plus a generated
   tail with tiny synthetic training data (numpy, fixed seed) and the checkpoint path;
2. training for a few steps with RETURNN itself (``python -m returnn returnn.config``): the checkpoint is written
   by RETURNN's saver, so the weights are not the initial ones;
3. the graph from RETURNN's own ``tools/compile_tf_graph.py`` (as .meta), with the model's compile flags;
4. reference outputs: TensorFlow runs graph.meta (RETURNN's native ops compiled by RETURNN with g++, loaded before
   the import) with the checkpoint restored, on fixed padded inputs (reference.py, a fresh process per model);
5. manifest.json listing every model.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ZOO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import registry  # noqa: E402

TRAIN_TAIL = '''

# ---- written by returnn-zoo/zoo/gen.py: tiny synthetic training data and where the checkpoint goes ----
import os as _os
import numpy as _numpy

_rng = _numpy.random.RandomState(42)


def _zoo_seqs(num_seqs, spec):
    """spec: key -> (kind, dim, group); group "T" is the input time, "U" a label sequence of about T / label_ratio
    (ending with EOS if the model's train dict has "eos")."""
    seqs = []
    for _ in range(num_seqs):
        t = int(_rng.randint(%(min_len)d, %(max_len)d + 1))
        seq = {}
        for key, (kind, dim, group) in sorted(spec.items()):
            n = t if group == "T" else max(1, t // %(label_ratio)d)
            if kind == "sparse":
                seq[key] = _rng.randint(%(low_label)d, dim, size=(n,)).astype("int32")
                if group == "U" and %(eos)r is not None:
                    seq[key][-1] = %(eos)r  # label sequences end with EOS (an encoder-decoder's end label)
            else:
                seq[key] = _rng.normal(size=(n, dim)).astype("float32")
        seqs.append(seq)
    return seqs


_zoo_spec = %(spec)r
task = "train"
train = {
    "class": "StaticDataset",
    "data": _zoo_seqs(%(num_seqs)d, _zoo_spec),
    "output_dim": {k: (d, 1 if kind == "sparse" else 2) for k, (kind, d, _) in _zoo_spec.items()},
}
dev = None
num_epochs = %(epochs)d
model = _os.path.dirname(_os.path.abspath(__file__)) + "/net-model/network"
optimizer = {"class": "adam"}
learning_rate = %(lr)r
batch_size = 5000
max_seqs = 8
random_seed = 1
log_verbosity = 3
'''


def run(cmd, cwd, log):
    with open(log, "w") as f:
        p = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    if p.returncode != 0:
        with open(log) as f:
            tail = f.read()[-4000:]
        raise RuntimeError("%s failed (exit %d), see %s:\n%s" % (" ".join(cmd), p.returncode, log, tail))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def patched_returnn_src(src, work, patch):
    """A copy of RETURNN's source distribution under work/ with zoo/patches/PATCH applied (patch -p1)."""
    dst = os.path.join(work, "returnn-src")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    run(["patch", "-p1", "--forward", "-i", os.path.join(HERE, "patches", patch)], dst,
        os.path.join(work, "patch-%s.log" % patch))
    return dst


def write_config(m, out):
    with open(os.path.join(ZOO, "configs", m["config"])) as f:
        text = f.read()
    for old, new in m.get("subst", {}).items():
        assert old in text, (m["name"], old)
        text = text.replace(old, new)
    t = m["train"]
    text += TRAIN_TAIL % dict(
        spec=t["spec"], num_seqs=t.get("num_seqs", 24), min_len=t.get("min_len", 2), max_len=t.get("max_len", 10),
        label_ratio=t.get("label_ratio", 1), low_label=t.get("low_label", 0), eos=t.get("eos"),
        epochs=t.get("epochs", 2), lr=t.get("lr", 0.01))
    path = os.path.join(out, "returnn.config")
    with open(path, "w") as f:
        f.write(text)
    return path


def generate(m, src, python):
    name = m["name"]
    out = os.path.join(ZOO, "models", name)
    work = os.path.join(ZOO, "work", name)
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(out)
    os.makedirs(work)
    write_config(m, out)
    t0 = time.time()
    epochs = m["train"].get("epochs", 2)
    if "checkpoint_from" in m:
        # a compile-time variant (e.g. "initial_state": "placeholder", or the seed's onnx_export edits): users train
        # once and compile the edited config against the same checkpoint
        src_dir = os.path.join(ZOO, "models", m["checkpoint_from"], "net-model")
        shutil.copytree(src_dir, os.path.join(out, "net-model"))
    else:
        run([python, "-m", "returnn", "returnn.config"], out, os.path.join(work, "train.log"))
    ckpt = "net-model/network.%03d" % epochs
    # keep only the final checkpoint, as RETURNN's saver wrote it (its .meta is the training graph: not needed)
    for f in os.listdir(os.path.join(out, "net-model")):
        p = os.path.join(out, "net-model", f)
        if not f.startswith("network.%03d." % epochs) or f.endswith(".meta"):
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    graphs = {}
    for gname, spec in m.get("graphs", {"graph.meta": []}).items():
        # spec: compile_tf_graph.py flags, or {"flags": [...], "subst": {old: new}} for a graph that users compile
        # from an edited config (written next to it as returnn.GRAPH.config)
        flags, cfg = (spec["flags"], "returnn.config") if isinstance(spec, dict) else (spec, "returnn.config")
        if isinstance(spec, dict) and spec.get("subst"):
            cfg = "returnn.%s.config" % os.path.splitext(gname)[0]
            with open(os.path.join(out, "returnn.config")) as f:
                text = f.read()
            for old, new in spec["subst"].items():
                assert old in text, (name, gname, old)
                text = text.replace(old, new)
            with open(os.path.join(out, cfg), "w") as f:
                f.write(text)
        tools = os.path.join(src, "tools")
        if isinstance(spec, dict) and spec.get("returnn_patch"):
            # a graph RETURNN compiles only with a fix (zoo/patches/*.patch): compiled by a patched copy of the source
            # distribution (work/NAME/returnn-src), never by the venv's own copy
            tools = os.path.join(patched_returnn_src(src, work, spec["returnn_patch"]), "tools")
        cmd = [python, os.path.join(tools, "compile_tf_graph.py"), cfg, "--output_file", gname] + flags
        run(cmd, out, os.path.join(work, "compile-%s.log" % gname))
        graphs[gname] = {"file": "models/%s/%s" % (name, gname), "compile_tf_graph_flags": flags}
        if isinstance(spec, dict) and spec.get("returnn_patch"):
            graphs[gname]["returnn_patch"] = "zoo/patches/" + spec["returnn_patch"]
        if cfg != "returnn.config":
            graphs[gname]["config"] = "models/%s/%s" % (name, cfg)
    entry = {
        "name": name,
        "kind": m["kind"],
        "description": m["description"],
        "config": "models/%s/returnn.config" % name,
        "graph": "models/%s/%s" % (name, m.get("reference_graph", "graph.meta")),
        "graphs": graphs,
        "checkpoint": "models/%s/%s" % (name, ckpt),
    }
    if m.get("reference", True):
        spec_file = os.path.join(work, "reference-spec.json")
        with open(spec_file, "w") as f:
            json.dump({"model": m, "graph": entry["graph"], "checkpoint": entry["checkpoint"], "zoo": ZOO}, f)
        run([python, os.path.join(HERE, "reference.py"), spec_file], out, os.path.join(work, "reference.log"))
        with open(os.path.join(out, "reference.json")) as f:
            entry.update(json.load(f))
        os.remove(os.path.join(out, "reference.json"))
    for gname, spec in m.get("graphs", {}).items():
        # a graph only the reference needs (e.g. another beam size's search graph): moved out of models/ after the
        # reference ran (the zoo stays small); its config and flags stay recorded, `generate NAME` rebuilds it
        if isinstance(spec, dict) and spec.get("commit") is False:
            os.replace(os.path.join(out, gname), os.path.join(work, gname))
            graphs[gname]["file"] = None
            graphs[gname]["note"] = "not committed: compile_tf_graph.py with these flags on the config (generate %s)" % name
    for k in ("checkpoint_from", "fuse", "fuse_outputs", "declined", "state", "convert", "notes", "tf2onnx"):
        if k in m:
            entry[k] = m[k]
    entry["generate_seconds"] = round(time.time() - t0, 1)
    return entry


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--returnn-src", required=True, help="RETURNN's unpacked source distribution (for tools/)")
    ap.add_argument("--manifest-only", action="store_true", help="only rebuild manifest.json from models/*/entry.json")
    ap.add_argument("models", nargs="*", help="names from zoo/registry.py (default: all)")
    args = ap.parse_args()
    names = args.models or [m["name"] for m in registry.MODELS]
    unknown = set(names) - {m["name"] for m in registry.MODELS}
    if unknown:
        sys.exit("error: unknown zoo model(s): %s" % ", ".join(sorted(unknown)))
    import returnn
    import tensorflow as tf
    failures = []
    for m in registry.MODELS:
        if m["name"] not in names or args.manifest_only:
            continue
        print("zoo: %s ..." % m["name"], flush=True)
        try:
            entry = generate(m, args.returnn_src, sys.executable)
            entry["returnn_version"] = returnn.__version__
            entry["tensorflow_version"] = tf.__version__
            with open(os.path.join(ZOO, "models", m["name"], "entry.json"), "w") as f:
                json.dump(entry, f, indent=1)
                f.write("\n")
        except Exception as e:  # report every failing model, then fail
            print("zoo: %s FAILED: %s" % (m["name"], e), flush=True)
            failures.append(m["name"])
    # the manifest is rebuilt from every model's entry.json, in registry order
    models = []
    for m in registry.MODELS:
        path = os.path.join(ZOO, "models", m["name"], "entry.json")
        if os.path.exists(path):
            with open(path) as f:
                models.append(json.load(f))
    manifest_path = os.path.join(ZOO, "manifest.json")
    with open(manifest_path + ".tmp", "w") as f:
        json.dump({"version": 1, "models": models}, f, indent=1)
        f.write("\n")
    os.replace(manifest_path + ".tmp", manifest_path)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(ZOO, "models")) for f in fs)
    print("zoo: %d models in manifest, %.1f MB under models/" % (len(models), size / 1e6))
    if failures:
        sys.exit("error: zoo models failed: %s" % ", ".join(failures))


if __name__ == "__main__":
    main()
