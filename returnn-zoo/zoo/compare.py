"""Runs every zoo model both ways and compares (see returnn-zoo/compare and issue 12, part 4):

1. the pipeline users run today: checkpoint -> SavedModel (TensorFlow, RETURNN's native ops loaded first: the
   ``savedmodel`` mode of this file, in its own process) -> ``python -m tf2onnx.convert --saved-model DIR
   --opset 17`` (tf2onnx's default optimizers), on the graph the manifest's ``tf2onnx`` field names (the seed's
   config edits, e.g. ``onnx_export`` / ``inf_value``) or else the model's own graph;
2. ``./returnn-onnx convert --graph G --checkpoint C --outputs <recorded outputs>``.

Both ONNX models run in ONNX Runtime on the recorded inputs, on 1 thread (intra/inter op 1, sequential execution,
default graph optimizations): median latency (the two models' runs interleaved, after warm-up), max abs error of
every output vs the recorded TensorFlow outputs, node count, fused ops. Prints one table, the summary line, and
writes compare.md and compare.json next to manifest.json. Intermediate files go to work/compare/NAME/.

Match: float outputs within 1e-5 * max(1, max |reference|) absolute everywhere (1e-5 absolute for outputs of
magnitude <= 1, relative to the output's scale above that), same shape, no NaN/Inf where TF has a finite value;
integer and bool outputs exactly.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ZOO = os.path.dirname(HERE)
ROOT = os.path.dirname(ZOO)
WORK = os.path.join(ZOO, "work", "compare")
OPSET = 17
FLOAT_TOL = 1e-5
FUSED = {"LSTM": ("LSTM",), "Attn": ("MultiHeadAttention", "Attention"), "LN": ("LayerNormalization",),
         "Loop": ("Loop", "Scan")}


# ---------------------------------------------------------------------------------------------------------------
# mode "savedmodel" (own process, imports TensorFlow): graph.meta + checkpoint -> SavedModel with a serving signature


def export_savedmodel(job_file):
    with open(job_file) as f:
        job = json.load(f)
    import tensorflow as tf

    sys.path.insert(0, HERE)
    from reference import load_native_ops

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.disable_control_flow_v2()
    meta = tf.compat.v1.MetaGraphDef()
    with open(job["graph"], "rb") as f:
        meta.ParseFromString(f.read())
    native = load_native_ops(meta.graph_def)
    libs = []
    if native:
        from returnn.tf.native_op import OpMaker

        for mod in OpMaker.mod_cache.values():
            comp = getattr(mod, "_op_compiler", None)
            if comp is not None and comp._so_filename not in libs:
                libs.append(comp._so_filename)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        saver = tf.compat.v1.train.Saver(var_list=tf.compat.v1.global_variables())
        cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        with tf.compat.v1.Session(graph=graph, config=cfg) as session:
            if job.get("checkpoint"):
                saver.restore(session, job["checkpoint"])

            def tensor(name):
                return graph.get_tensor_by_name(name if ":" in name else name + ":0")

            names = {op.name for op in graph.get_operations()}
            inputs = [k for k in job["inputs"] if k.split(":")[0] in names]  # an edited graph may lack some
            sig = tf.compat.v1.saved_model.signature_def_utils.predict_signature_def(
                inputs={k: tensor(k) for k in inputs}, outputs={k: tensor(k) for k in job["outputs"]})
            shutil.rmtree(job["output"], ignore_errors=True)
            builder = tf.compat.v1.saved_model.Builder(job["output"])
            builder.add_meta_graph_and_variables(
                session, [tf.compat.v1.saved_model.tag_constants.SERVING],
                signature_def_map={"serving_default": sig}, strip_default_attrs=True)
            builder.save()
    with open(job["result"], "w") as f:
        json.dump({"native_ops": native, "op_libraries": libs}, f)


# ---------------------------------------------------------------------------------------------------------------
# the comparison (no TensorFlow in this process: ONNX Runtime measures alone)


TIMEOUT = 900  # seconds per conversion step (--timeout)
OURS_ARGS = []  # extra returnn-onnx convert options (--convert-args)


def run(cmd, log, env=None):
    t0 = time.perf_counter()
    with open(log, "w") as f:
        try:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=ROOT, timeout=TIMEOUT).returncode
        except subprocess.TimeoutExpired:
            rc = None
    seconds = time.perf_counter() - t0
    with open(log, errors="replace") as f:
        text = f.read()
    if rc is None:
        rc, text = -1, text + "\nerror: timed out after %d s\n" % TIMEOUT
    return rc, seconds, text


def last_error_line(text):
    """The last error line; for a Python exception also where it was raised (the innermost traceback frame)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for i in range(len(lines) - 1, -1, -1):
        l = lines[i]
        if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", l) or l.startswith("error:"):
            frames = [re.match(r'File "(?:.*/site-packages/)?([^"]+)", line \d+, in (\S+)', f) for f in lines[:i]]
            frames = [f for f in frames if f]
            where = " (in %s %s)" % (frames[-1].group(1), frames[-1].group(2)) if frames and "Error" in l else ""
            return (l + where)[:400]
    return lines[-1][:300] if lines else "no output"


def tf2onnx_failure(text):
    """One line: how tf2onnx failed (unsupported op names first: that is what users read)."""
    m = re.findall(r"Unsupported ops: Counter\((\{.*?\})\)", text)
    if m:
        ops = eval(m[-1], {})  # a dict literal as tf2onnx logs it
        return "unsupported ops: " + ", ".join("%s x%d" % (k, v) for k, v in sorted(ops.items()))
    m = re.findall(r"Op type not registered '([^']+)'", text)
    if m:
        return "Op type not registered: " + ", ".join(sorted(set(m)))
    m = re.findall(r"Tensorflow op \[[^\]]*: ([A-Za-z0-9_]+)\] is not supported", text)
    if m:
        return "unsupported ops: " + ", ".join(sorted(set(m)))
    return last_error_line(text)


def onnx_stats(path):
    import onnx

    model = onnx.load(path, load_external_data=False)
    hist = {}
    top = len(model.graph.node)

    def walk(g):
        for n in g.node:
            hist[n.op_type] = hist.get(n.op_type, 0) + 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for sg in a.graphs:
                    walk(sg)

    walk(model.graph)

    def dims(v):
        return [d.dim_param or (d.dim_value if d.HasField("dim_value") else "?") for d in v.type.tensor_type.shape.dim]

    return {
        "input_shapes": {i.name: dims(i) for i in model.graph.input},
        "nodes": sum(hist.values()),
        "top_level_nodes": top,
        "fused": {k: sum(hist.get(op, 0) for op in ops) for k, ops in FUSED.items()},
        "ops": dict(sorted(hist.items())),
        "bytes": os.path.getsize(path),
    }


def norm(name):
    if name.endswith(":0"):
        name = name[:-2]
    return re.sub(r"[^A-Za-z0-9]", "_", name)


def match_names(model_names, recorded, renamed):
    """model name -> recorded name: equal (after renamed) up to ':0' and tf2onnx's renaming of '/' and ':'."""
    by_norm = {norm(renamed.get(r, r)): r for r in recorded}
    return {n: by_norm.get(norm(n)) for n in model_names}


def make_session(path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 4  # a model that fails to run is reported in the table, not logged here too
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


ORT_NP = {"tensor(float)": "float32", "tensor(int32)": "int32", "tensor(int64)": "int64", "tensor(bool)": "bool",
          "tensor(double)": "float64", "tensor(float16)": "float16"}


class Runner:
    """One ONNX model in ONNX Runtime, fed the recorded inputs; errors vs the recorded outputs."""

    def __init__(self, path, inputs, outputs, renamed=None):
        """renamed: recorded TF name -> the name in the graph this model was converted from (an edited graph)."""
        renamed = renamed or {}
        self.notes = []
        self.session = make_session(path)
        names = match_names([i.name for i in self.session.get_inputs()], inputs, renamed)
        self.feed = {}
        for i in self.session.get_inputs():
            r = names[i.name]
            if r is None:
                raise RuntimeError("model input %s is none of the recorded inputs" % i.name)
            v = inputs[r]
            want = ORT_NP.get(i.type)
            if want and str(v.dtype) != want:
                self.notes.append("input %s fed as %s (recorded %s)" % (i.name, want, v.dtype))
                v = v.astype(want)
            self.feed[i.name] = v
        unused = set(inputs) - set(names.values())
        if unused:
            self.notes.append("recorded inputs not used by the model: " + ", ".join(sorted(unused)))
        out_names = [o.name for o in self.session.get_outputs()]
        by_rec = {v: k for k, v in match_names(out_names, outputs, renamed).items() if v is not None}
        missing = [o for o in outputs if o not in by_rec]
        if missing:
            raise RuntimeError("model has no output for " + ", ".join(missing))
        self.fetch = [by_rec[o] for o in outputs] or None  # no TF reference recorded: run every output
        self.recorded = outputs

    def run(self):
        return self.session.run(self.fetch, self.feed)

    def errors(self):
        import numpy as np

        values = self.run()
        result = {}
        for (rname, ref), got in zip(self.recorded.items(), values):
            e = {"shape": list(got.shape)}
            if got.shape != ref.shape:
                e.update(max_abs_error=None, ok=False, why="shape %s, TF %s" % (list(got.shape), list(ref.shape)))
            elif ref.dtype.kind in "fc":
                diff = np.abs(got.astype("float64") - ref.astype("float64"))
                finite_ref = np.isfinite(ref)
                bad_nan = int(np.sum(~np.isfinite(got) & finite_ref))
                scale = float(np.max(np.abs(ref[finite_ref]))) if finite_ref.any() else 0.0
                err = float(np.max(np.where(finite_ref, diff, 0.0))) if diff.size else 0.0
                if bad_nan:
                    err = float("nan")
                tol = FLOAT_TOL * max(1.0, scale)
                e.update(max_abs_error=err, tolerance=tol, ok=bool(bad_nan == 0 and err <= tol))
                if bad_nan:
                    e["why"] = "%d non-finite values where TF is finite" % bad_nan
            else:
                mism = int(np.sum(got != ref))
                e.update(max_abs_error=float(np.max(np.abs(got.astype("int64") - ref.astype("int64"))))
                         if got.size else 0.0, ok=mism == 0)
                if mism:
                    e["why"] = "%d values differ" % mism
                    if got.size <= 8:
                        e["why"] += ": %s, TF %s" % (got.tolist(), ref.tolist())
            result[rname] = e
        return result


def load_recorded(entry, key):
    import numpy as np

    return {k: np.load(os.path.join(ZOO, v["file"])) for k, v in entry.get(key, {}).items()}


def convert_ours(entry, work):
    out = os.path.join(work, "returnn-onnx.onnx")
    if os.path.exists(out):
        os.remove(out)
    cmd = [os.path.join(ROOT, "returnn-onnx"), "convert", "--graph", os.path.join(ZOO, entry["graph"])]
    if entry.get("checkpoint"):
        cmd += ["--checkpoint", os.path.join(ZOO, entry["checkpoint"])]
    if entry.get("outputs"):
        cmd += ["--outputs", ",".join(entry["outputs"])]
    cmd += ["--output", out] + OURS_ARGS
    rc, seconds, text = run(cmd, os.path.join(work, "returnn-onnx.log"))
    r = {"command": " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd),
         "seconds": round(seconds, 2), "converted": rc == 0 and os.path.exists(out)}
    m = re.search(r"^time: (.*)$", text, re.M)
    if m:
        r["report_time"] = m.group(1)  # e.g. "read 675 ms, convert 447 ms, write 114 ms" (inside the JVM)
        r["report_seconds"] = round(sum(int(x) for x in re.findall(r"(\d+) ms", m.group(1))) / 1000.0, 3)
    r["warnings"] = [l.strip() for l in text.splitlines() if l.strip().startswith("warning:")]
    if "building returnn-onnx" in text:
        r["rebuilt"] = True  # the launcher built first: the time includes a Maven build
    fused = re.search(r"^fused:\n((?:  .*\n?)*)", text, re.M)
    if fused:
        r["fusions"] = [l.strip() for l in fused.group(1).splitlines() if l.strip()]
    if r["converted"]:
        r["model"] = out
    else:
        r["failure"] = last_error_line(text)
    return r


def convert_tf2onnx(entry, work, python):
    spec = entry.get("tf2onnx") or {}
    graph = spec.get("graph", entry["graph"])
    checkpoint = spec.get("checkpoint", entry.get("checkpoint"))
    saved = os.path.join(work, "saved_model")
    out = os.path.join(work, "tf2onnx.onnx")
    for p in (out,):
        if os.path.exists(p):
            os.remove(p)
    renamed = dict(spec.get("inputs", {}), **spec.get("outputs", {}))  # recorded name -> name in that graph
    job = {"graph": os.path.join(ZOO, graph), "checkpoint": checkpoint and os.path.join(ZOO, checkpoint),
           "inputs": [renamed.get(k, k) for k in entry.get("inputs", {})],
           "outputs": [renamed.get(k, k) for k in entry.get("outputs", {})] or ["output/output_batch_major"],
           "output": saved, "result": os.path.join(work, "saved_model.json")}
    job_file = os.path.join(work, "saved_model-job.json")
    with open(job_file, "w") as f:
        json.dump(job, f, indent=1)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    r = {"graph": graph, "seed_edits": "graph" in spec, "renamed": renamed}
    rc, seconds, text = run([python, os.path.abspath(__file__), "savedmodel", job_file],
                            os.path.join(work, "saved_model.log"), env)
    r["savedmodel_seconds"] = round(seconds, 2)
    if rc != 0:
        r.update(converted=False, seconds=None, failure="SavedModel export failed: " + last_error_line(text))
        return r
    with open(job["result"]) as f:
        exported = json.load(f)
    cmd = [python, "-m", "tf2onnx.convert", "--saved-model", saved, "--opset", str(OPSET), "--output", out]
    if exported["op_libraries"]:
        # RETURNN's compiled native op library, so TF can load the SavedModel at all (else: "Op type not
        # registered 'NativeLstm2'"); tf2onnx then says which ops it cannot convert
        cmd += ["--load_op_libraries", ",".join(exported["op_libraries"])]
    rc, seconds, text = run(cmd, os.path.join(work, "tf2onnx.log"), env)
    r.update(command=" ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd),
             seconds=round(seconds, 2), converted=rc == 0 and os.path.exists(out))
    r["native_ops"] = exported["native_ops"]
    unsupported = re.findall(r"Tensorflow op \[([^\]]*)\] is not supported", text)
    if unsupported:
        r["unsupported"] = unsupported
    if r["converted"] and unsupported:
        # tf2onnx logs the ops it cannot convert, exits 0 and writes a model that keeps them as TF ops (domain ""),
        # which ONNX Runtime rejects as an invalid model: not a conversion
        r.update(converted=False, unconverted_model=os.path.relpath(out, ZOO))
        r["failure"] = tf2onnx_failure(text) + " (tf2onnx exits 0 and writes a model that keeps them: not valid ONNX)"
        return r
    if r["converted"]:
        r["model"] = out
        r["warnings"] = sorted(set(l.strip() for l in text.splitlines() if " - WARNING - " in l or "ERROR" in l))[:20]
    else:
        r["failure"] = tf2onnx_failure(text)
    return r


def measure(models, repeat, warmup):
    """models: tool -> Runner. Interleaved runs (A, B, A, B, ...): both see the same machine load."""
    times = {t: [] for t in models}
    for t, m in models.items():
        for _ in range(warmup):
            m.run()
    for _ in range(repeat):
        for t, m in models.items():
            t0 = time.perf_counter()
            m.run()
            times[t].append(time.perf_counter() - t0)
    return {t: statistics.median(v) * 1000.0 for t, v in times.items()}


def compare_model(entry, args, python):
    name = entry["name"]
    work = os.path.join(WORK, name)
    os.makedirs(work, exist_ok=True)
    print("compare: %s ..." % name, flush=True)
    res = {"name": name, "kind": entry.get("kind"), "graph": entry["graph"], "fuse": entry.get("fuse"), "fuse_outputs": entry.get("fuse_outputs"),
           "outputs": list(entry.get("outputs", {})), "tools": {}}
    res["tools"]["returnn-onnx"] = convert_ours(entry, work)
    res["tools"]["tf2onnx"] = convert_tf2onnx(entry, work, python)
    inputs = load_recorded(entry, "inputs")
    outputs = load_recorded(entry, "outputs")
    runners = {}
    for tool, r in res["tools"].items():
        r["matched"] = False
        if not r["converted"]:
            continue
        r.update(onnx_stats(r["model"]))
        try:
            runner = Runner(r["model"], inputs, outputs, r.get("renamed"))
            r["notes"] = runner.notes
            r["outputs"] = runner.errors()
        except Exception as e:  # loads or runs wrong: recorded as such, the other tool still measured
            r["run_failure"] = ("%s: %s" % (type(e).__name__, e)).splitlines()[0][:300]
            continue
        errs = [o["max_abs_error"] for o in r["outputs"].values()]
        r["max_abs_error"] = (float("nan") if any(e is None or e != e for e in errs) else max(errs)) if errs else None
        r["matched"] = bool(outputs) and all(o["ok"] for o in r["outputs"].values())
        runners[tool] = runner
    if runners:
        for tool, ms in measure(runners, args.repeat, args.warmup).items():
            res["tools"][tool]["latency_ms"] = round(ms, 4)
    a, b = res["tools"]["returnn-onnx"].get("latency_ms"), res["tools"]["tf2onnx"].get("latency_ms")
    res["speed_ratio"] = round(b / a, 4) if a and b else None
    for tool, r in res["tools"].items():
        print("compare: %s: %s: %s" % (name, tool, cell_summary(r)), flush=True)
    return res


def cell_summary(r):
    if not r["converted"]:
        return "FAILED (%s)" % r.get("failure")
    s = "converted in %.1f s, %d nodes" % (r["seconds"], r["nodes"])
    if "run_failure" in r:
        return s + ", ONNX Runtime: " + r["run_failure"]
    return s + ", %.3f ms, max error %s, %s" % (r.get("latency_ms", float("nan")), fmt_err(r.get("max_abs_error")),
                                               "matches TF" if r["matched"] else "DIFFERS from TF")


def fmt_err(e):
    if e is None:
        return "-"
    if e != e:
        return "NaN"
    return "0" if e == 0 else "%.1e" % e


TOOLS = ("returnn-onnx", "tf2onnx")
HEADER = ["model"] + ["%s %s" % (t, c) for t in ("ours", "tf2onnx")
                      for c in ("converts", "conv s", "nodes", "LSTM/Attn/LN/Loop", "ms", "max err")] + ["speed"]


def row(res):
    cells = [res["name"]]
    for tool in TOOLS:
        r = res["tools"][tool]
        if not r["converted"]:
            cells += ["no", "-" if r.get("seconds") is None else "%.1f" % r["seconds"], "-", "-", "-", "-"]
            continue
        f = r["fused"]
        fused = "%d/%d/%d/%d" % (f["LSTM"], f["Attn"], f["LN"], f["Loop"])
        if "run_failure" in r:
            cells += ["yes", "%.1f" % r["seconds"], str(r["nodes"]), fused, "ORT fails", "-"]
            continue
        err = fmt_err(r.get("max_abs_error")) + ("" if r["matched"] else " ✗")
        cells += ["yes", "%.1f" % r["seconds"], str(r["nodes"]), fused, "%.3f" % r["latency_ms"], err]
    cells.append("%.2fx" % res["speed_ratio"] if res["speed_ratio"] else "-")
    return cells


def summary(results):
    n = len(results)
    t = {tool: [r["tools"][tool] for r in results] for tool in TOOLS}
    conv = {tool: sum(1 for r in t[tool] if r["converted"]) for tool in TOOLS}
    match = {tool: sum(1 for r in t[tool] if r["matched"]) for tool in TOOLS}
    ratios = [r["speed_ratio"] for r in results if r["speed_ratio"]]
    med = "%.2fx" % statistics.median(ratios) if ratios else "n/a"
    return ("zoo: %d models; returnn-onnx converted %d/%d, matched TF %d/%d; tf2onnx converted %d/%d, matched TF %d/%d; "
            "returnn-onnx model speed vs tf2onnx model: median %s" % (
                n, conv["returnn-onnx"], n, match["returnn-onnx"], n, conv["tf2onnx"], n, match["tf2onnx"], n, med))


def timing_line(results):
    """Conversion wall times, medians over the models each tool converts (tf2onnx: plus the SavedModel export)."""
    def med(v):
        return "%.1f s" % statistics.median(v) if v else "n/a"

    ours = [r["tools"]["returnn-onnx"]["seconds"] for r in results if r["tools"]["returnn-onnx"]["converted"]]
    t2o = [r["tools"]["tf2onnx"] for r in results if r["tools"]["tf2onnx"]["converted"]]
    both = [r["tools"]["tf2onnx"]["seconds"] / r["tools"]["returnn-onnx"]["seconds"] for r in results
            if r["tools"]["tf2onnx"]["converted"] and r["tools"]["returnn-onnx"]["converted"]]
    # the pipeline users run today: checkpoint -> SavedModel, then tf2onnx
    pipeline = [(r["tools"]["tf2onnx"]["seconds"] + r["tools"]["tf2onnx"]["savedmodel_seconds"])
                / r["tools"]["returnn-onnx"]["seconds"] for r in results
                if r["tools"]["tf2onnx"]["converted"] and r["tools"]["returnn-onnx"]["converted"]]
    inside = [r["tools"]["returnn-onnx"]["report_seconds"] for r in results
              if r["tools"]["returnn-onnx"]["converted"] and "report_seconds" in r["tools"]["returnn-onnx"]]
    return ("conversion time (median): returnn-onnx %s (its report's read + convert + write: %s); tf2onnx %s, plus "
            "%s for the SavedModel export; where both convert, tf2onnx time / ours: median %s, (SavedModel export + "
            "tf2onnx) / ours: median %s" % (
                med(ours), med(inside), med([t["seconds"] for t in t2o]),
                med([t["savedmodel_seconds"] for t in t2o]),
                "%.2fx" % statistics.median(both) if both else "n/a",
                "%.2fx" % statistics.median(pipeline) if pipeline else "n/a"))


def notes(results):
    lines = []
    for res in results:
        for tool in TOOLS:
            r = res["tools"][tool]
            if not r["converted"]:
                lines.append("%s: %s fails: %s" % (res["name"], tool, r["failure"]))
            elif "run_failure" in r:
                lines.append("%s: %s model fails in ONNX Runtime: %s" % (res["name"], tool, r["run_failure"]))
            elif not r.get("outputs"):
                lines.append("%s: no TF reference recorded: %s not compared" % (res["name"], tool))
            elif not r["matched"]:
                whys = ["%s %s" % (o, e.get("why", "max error %s > %.1e" % (fmt_err(e["max_abs_error"]), e.get("tolerance", 0))))
                        for o, e in r.get("outputs", {}).items() if not e["ok"]]
                lines.append("%s: %s differs from TF: %s" % (res["name"], tool, "; ".join(whys)))
        ours, t = res["tools"]["returnn-onnx"], res["tools"]["tf2onnx"]
        # the manifest's fusion counts are for the recorded outputs, or for its fuse_outputs when it has them
        want = res.get("fuse") or {}
        if not set(res.get("fuse_outputs") or []) <= set(res.get("outputs") or []):
            want = {}
        if ours.get("ops") is not None and any(ours["ops"].get(op, 0) != n for op, n in want.items()):
            lines.append("%s: returnn-onnx has %s where the manifest expects %s" % (res["name"], ", ".join(
                "%s %d" % (op, ours["ops"].get(op, 0)) for op in want), ", ".join("%s %d" % kv for kv in want.items())))
        if t.get("input_shapes") and ours.get("input_shapes"):
            ours_dims = {norm(k): v for k, v in ours["input_shapes"].items()}
            fixed = {k: v for k, v in t["input_shapes"].items() if any(
                isinstance(d, int) and not isinstance(o, int) for d, o in zip(v, ours_dims.get(norm(k), [])))}
            if fixed:
                lines.append("%s: tf2onnx model inputs of fixed shape: %s" % (res["name"], ", ".join(
                    "%s %s" % kv for kv in fixed.items())))
        if t.get("seed_edits"):
            lines.append("%s: tf2onnx ran on %s (the seed's config edits)" % (res["name"], t["graph"]))
        if ours.get("rebuilt"):
            lines.append("%s: returnn-onnx's time includes a Maven build by the launcher" % res["name"])
        for w in res["tools"]["returnn-onnx"].get("warnings", []):
            lines.append("%s: returnn-onnx %s" % (res["name"], w))
    return lines


def text_table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def md_table(rows):
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(["---"] + ["---:"] * (len(rows[0]) - 1)) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows[1:]]
    return "\n".join(out)


def versions():
    import onnxruntime
    from importlib.metadata import version

    v = {p: version(p) for p in ("tf2onnx", "tensorflow-cpu", "returnn", "onnx")}
    v["onnxruntime"] = onnxruntime.__version__
    return v


def build_returnn_onnx():
    """Builds now, so no build lands in a conversion time: the launcher rebuilds whenever a .java or pom.xml is newer
    than the jar, and Maven leaves the jar's mtime alone when its classes did not change (e.g. only a test changed),
    so after a successful build the jar is touched."""
    jar = os.path.join(ROOT, "cli", "target", "returnn-onnx.jar")

    def stale():
        if not os.path.exists(jar):
            return True
        t = os.path.getmtime(jar)
        for d, dirs, files in os.walk(ROOT):
            dirs[:] = [x for x in dirs if x != "target" and not x.startswith(".") and x != "returnn-zoo"]
            if any((f.endswith(".java") or f == "pom.xml") and os.path.getmtime(os.path.join(d, f)) > t for f in files):
                return True
        return False

    if stale():
        print("compare: building returnn-onnx (mvn -B -q install -DskipTests) ...", flush=True)
        subprocess.run([os.path.join(ROOT, "scripts", "ensure-tools")], check=True)
        subprocess.run(["mvn", "-B", "-q", "install", "-DskipTests"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        os.utime(jar)


def main():
    global TIMEOUT
    if len(sys.argv) > 1 and sys.argv[1] == "savedmodel":
        return export_savedmodel(sys.argv[2])
    ap = argparse.ArgumentParser(description="returnn-onnx vs checkpoint -> SavedModel -> tf2onnx on the zoo")
    ap.add_argument("--repeat", type=int, default=50, help="timed runs per model and tool (median; default 50)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    ap.add_argument("--convert-args", default="",
                    help="extra options for returnn-onnx convert, e.g. '--ort-version 1.23' (default: none)")
    ap.add_argument("--timeout", type=int, default=TIMEOUT, help="seconds per conversion step (default %d)" % TIMEOUT)
    ap.add_argument("--manifest", default=os.path.join(ZOO, "manifest.json"),
                    help="the zoo's manifest (default: manifest.json; its paths are relative to returnn-zoo/)")
    ap.add_argument("models", nargs="*", help="model names from manifest.json (default: all)")
    args = ap.parse_args()
    TIMEOUT = args.timeout
    OURS_ARGS[:] = args.convert_args.split()
    with open(args.manifest) as f:
        entries = json.load(f)["models"]
    unknown = set(args.models) - {e["name"] for e in entries}
    if unknown:
        sys.exit("error: not in manifest.json: %s" % ", ".join(sorted(unknown)))
    entries = [e for e in entries if not args.models or e["name"] in args.models]
    os.makedirs(WORK, exist_ok=True)
    build_returnn_onnx()
    load = [os.getloadavg()[0]]
    results = [compare_model(e, args, sys.executable) for e in entries]
    load.append(os.getloadavg()[0])
    rows = [HEADER] + [row(r) for r in results]
    last = summary(results)
    note_lines = notes(results)
    legend = ("converts / conv s: conversion and its wall time (process start to end; tf2onnx: `python -m "
              "tf2onnx.convert --saved-model`, SavedModel export not included); nodes: ONNX nodes incl. subgraphs; "
              "LSTM/Attn/LN/Loop: ONNX LSTM, MultiHeadAttention+Attention, LayerNormalization, Loop+Scan nodes; "
              "ms: median ONNX Runtime latency on the recorded inputs, 1 thread, %d runs (ORT fails: converted, but ONNX "
              "Runtime rejects or cannot run the model); max err: max abs error vs "
              "the recorded TF outputs (✗: over %.0e x max(1, |TF|) or NaN); speed: tf2onnx ms / ours (runs of the two "
              "models interleaved). Machine: %d cores, load average %.1f at the start, %.1f at the end." % (
                  args.repeat, FLOAT_TOL, os.cpu_count(), load[0], load[1]))
    if OURS_ARGS:
        legend += " returnn-onnx convert options: `%s`." % " ".join(OURS_ARGS)
    print()
    print(text_table(rows))
    for l in note_lines:
        print("  " + l)
    timing = timing_line(results)
    print(timing)
    print(last)
    with open(os.path.join(ZOO, "compare.md"), "w") as f:
        f.write(md_table(rows) + "\n\n" + legend + "\n\n")
        for l in note_lines:
            f.write("- " + l + "\n")
        f.write("\n%s\n\n`%s`\n" % (timing, last))
    with open(os.path.join(ZOO, "compare.json"), "w") as f:
        json.dump({"summary": last, "convert_args": OURS_ARGS, "conversion_time": timing, "repeat": args.repeat, "cpu_count": os.cpu_count(), "load_average": load, "warmup": args.warmup, "opset": OPSET,
                   "versions": versions(), "models": [strip_paths(r) for r in results]}, f, indent=1)
        f.write("\n")


def strip_paths(res):
    for r in res["tools"].values():
        if "model" in r:
            r["model"] = os.path.relpath(r["model"], ZOO)
    return json_safe(res)


def json_safe(x):
    """NaN (an ONNX output with NaN where TF has a number) as the string "NaN": compare.json stays strict JSON."""
    if isinstance(x, float) and x != x:
        return "NaN"
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [json_safe(v) for v in x]
    return x


if __name__ == "__main__":
    main()
