"""The Python side of bench/cost/run.sh: the model's windows, the ONNX export, the PyTorch
timing and the report. Run with Debian's /usr/bin/python3 (python3-torch, python3-numpy).

    cost.py prepare MODEL FEATURES.npy WORK   the windows and kwt.onnx (opset 14)
    cost.py bench MODEL WORK GOCOST PASSES    latencies of all engines in lockstep (single thread)
    cost.py report WORK                       table and WORK/results.json
    cost.py has-delta MODEL                   exit 0 when the file carries delta thresholds
    cost.py spread OUT RESULTS.json...        the spread of the latency ratios over runs

Exchange files in WORK are raw little-endian float32 arrays (shapes in WORK/meta.json) and
JSON: windows.f32 [W, T, K] (the model's windows of the features at its hop, oldest frame
first), logits.<engine>.f32 [W, C], latency.<engine>.json (seconds per inference, one per
window and timed pass, aligned across engines).
The model is built by train/kwt.py's KWT from the file's tensors (train/export.py's
read_safetensors; the names are the state_dict's, the MFCC normalisation already folded into
`embed`), so PyTorch and the ONNX export run exactly the weights the Go engine loads.
"""

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "train"))

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass

from export import numpy_forward, read_safetensors  # noqa: E402
from kwt import KWT, KWTConfig  # noqa: E402

TOLERANCE = 1e-3  # max |logit difference| between engines on the same window


def load_model(path):
    """train/kwt.py's KWT with the file's tensors; (model, metadata, tensors)."""
    tensors, meta = read_safetensors(path)
    arch = json.loads(meta["architecture"])
    cfg = KWTConfig(**arch)
    model = KWT(cfg).eval()
    # feat_mean/feat_std are non-persistent buffers that stay 0 and 1: the file's
    # embed already takes raw frames. strict: every tensor name must match.
    state = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in tensors.items()}
    model.load_state_dict(state, strict=True)
    return model, meta, tensors


def write_f32(path, a):
    np.ascontiguousarray(a, dtype="<f4").tofile(path)


def read_f32(path, shape):
    return np.fromfile(path, dtype="<f4").reshape(shape)


def prepare(model_path, features_path, work):
    work = Path(work)
    model, meta, tensors = load_model(model_path)
    arch = json.loads(meta["architecture"])
    det = json.loads(meta.get("detection", "{}"))
    front = json.loads(meta["frontend"])
    hop_ms = int(det.get("hop_ms", 100))  # the daemon's default: the model's hop
    frame_ms = 1000 * front["hop"] / front["sample_rate"]
    hop = int(round(hop_ms / frame_ms))
    feats = np.load(features_path).astype(np.float32)
    t, k = arch["frames"], arch["coeffs"]
    if feats.ndim != 2 or feats.shape[1] != k:
        raise SystemExit(f"cost.py: features {feats.shape}, want [frames, {k}]")
    # The engine scores once it holds T frames, then after every hop frames (engine.PushFrame):
    # window w covers frames [w*hop, w*hop + T).
    starts = list(range(0, feats.shape[0] - t + 1, hop))
    if not starts:
        raise SystemExit(f"cost.py: {feats.shape[0]} frames, fewer than the window's {t}")
    windows = np.stack([feats[s:s + t] for s in starts])
    write_f32(work / "windows.f32", windows)

    with torch.no_grad():
        ref = model(torch.from_numpy(windows)).numpy()
    # An independent check of the module against FORMAT.md's forward pass (NumPy, float64).
    npy = numpy_forward(tensors, arch, windows[:4])
    err_np = float(np.max(np.abs(npy - ref[:4])))
    if err_np > TOLERANCE:
        raise SystemExit(f"cost.py: PyTorch module and FORMAT.md's NumPy forward differ by {err_np:.3g}")

    onnx_path = work / "kwt.onnx"
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # 1/sqrt(dh) is a constant
    torch.onnx.export(model, torch.from_numpy(windows[:1]), str(onnx_path), opset_version=14,
                      input_names=["frames"], output_names=["logits"], do_constant_folding=True)
    m = {
        "model": os.environ.get("COST_MODEL", str(model_path)), "architecture": arch, "classes": json.loads(meta["classes"]),
        "mlp": meta.get("mlp", "float32"), "windows": len(starts), "frames": t, "coeffs": k, "hop_frames": hop, "hop_ms": hop_ms,
        "features": str(features_path), "feature_frames": int(feats.shape[0]),
        "input": os.environ.get("COST_INPUT", str(features_path)),
        "torch": torch.__version__, "onnx_file_bytes": onnx_path.stat().st_size,
        "numpy_vs_torch_max_abs": err_np,
        "params": int(sum(p.numel() for p in model.parameters())),
    }
    (work / "meta.json").write_text(json.dumps(m, indent=2))
    print(f"prepare: {len(starts)} windows of {t} frames every {hop} frames ({hop_ms} ms) from "
          f"{feats.shape[0]} frames; exported {onnx_path.name} (opset 14, {m['onnx_file_bytes']} bytes); "
          f"NumPy vs PyTorch max |diff| {err_np:.2e}")


class Server:
    """An engine in another process that answers one JSON line per window index."""

    def __init__(self, argv, cwd=None, env=None):
        self.p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)

    def ask(self, k):
        self.p.stdin.write(f"{k}\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise SystemExit(f"cost.py: {self.p.args[0]} stopped (exit {self.p.wait()})")
        return json.loads(line)

    def close(self):
        """Ends the stream; returns the server's closing {"info": ...}."""
        self.p.stdin.close()
        info = json.loads(self.p.stdout.readline() or "{}").get("info", {})
        if self.p.wait():
            raise SystemExit(f"cost.py: {self.p.args[0]} exited with {self.p.returncode}")
        return info


def bench(model_path, work, gocost, passes):
    """All engines in lockstep: window by window, PyTorch here, the Go engine and ONNX Runtime
    in their own processes, in an order that rotates with the window, so that each window's
    figures of all engines are taken within a few milliseconds of each other. Pass 0 warms
    up and keeps the logits; passes 1..PASSES are timed."""
    work = Path(work)
    meta = json.loads((work / "meta.json").read_text())
    model, _, _ = load_model(model_path)
    w, t, k = meta["windows"], meta["frames"], meta["coeffs"]
    windows = torch.from_numpy(read_f32(work / "windows.f32", (w, t, k)).copy())
    inputs = [windows[i:i + 1] for i in range(w)]  # each window a [1, T, K] batch
    env = dict(os.environ, GOMAXPROCS="1")
    go = Server([gocost, "-model", str(model_path), "-features", meta["features"]], env=env)
    ort = Server(["node", "ort.js", str(work), "serve"], cwd=Path(__file__).parent)

    def torch_run(i):
        with torch.no_grad():
            t0 = time.perf_counter()
            y = model(inputs[i])
            return {"s": time.perf_counter() - t0, "logits": y[0].tolist()}

    names = ["ort", "pytorch", "go-dense-f32", "go-dense-window", "go-dense", "go-delta"]
    lat = {n: [] for n in names}
    logits = {n: np.zeros((w, meta["architecture"]["classes"]), dtype=np.float32) for n in names}
    t_start = time.time()
    for p in range(passes + 1):
        for i in range(w):
            got = {}
            for j in range(3):
                e = (i + p + j) % 3
                if e == 0:
                    got.update(go.ask(i))
                elif e == 1:
                    got["ort"] = ort.ask(i)
                else:
                    got["pytorch"] = torch_run(i)
            for n in names:
                if p == 0:
                    logits[n][i] = got[n]["logits"]
                else:
                    # The Go engine's first window fills its ring: no hop to time (s = -1).
                    lat[n].append(got[n]["s"] if got[n]["s"] >= 0 else float("nan"))
        print(f"pass {p}/{passes} {'(warm-up, logits)' if p == 0 else ''} done [{time.time() - t_start:.0f} s]",
              flush=True)
    info = {"go": go.close(), "ort": ort.close()}
    for n in names:
        write_f32(work / f"logits.{n}.f32", logits[n])
        (work / f"latency.{n}.json").write_text(json.dumps(lat[n]))
    (work / "engines.json").write_text(json.dumps(info, indent=2))


def stats(xs):
    a = np.asarray(xs, dtype=np.float64) * 1e3
    a = a[~np.isnan(a)]
    return {"n": int(a.size), "median_ms": float(np.median(a)), "p90_ms": float(np.percentile(a, 90)),
            "p10_ms": float(np.percentile(a, 10)), "mean_ms": float(a.mean())}


ENGINES = [
    ("ort", "ONNX Runtime (onnxruntime-node)", "the whole window [1, T, K] each hop"),
    ("pytorch", "PyTorch (eager, no_grad)", "the whole window [1, T, K] each hop"),
    ("go-dense-f32", "this engine, dense pass, float32 MLPs", "streaming: each frame embedded once"),
    ("go-dense-window", "this engine, dense pass", "the whole window each hop (no reuse)"),
    ("go-dense", "this engine, dense pass", "streaming: each frame embedded once"),
    ("go-delta", "this engine, delta pass (the daemon's)", "streaming: each frame embedded once"),
]

RATIOS = [("go-delta", "ort"), ("go-delta", "pytorch"), ("go-dense", "ort"), ("go-dense", "pytorch"),
          ("go-dense-window", "ort"), ("go-delta", "go-dense"), ("go-dense", "go-dense-f32"), ("ort", "pytorch")]


def report(work):
    work = Path(work)
    meta = json.loads((work / "meta.json").read_text())
    w, c = meta["windows"], meta["architecture"]["classes"]
    extra = json.loads((work / "extra.json").read_text()) if (work / "extra.json").exists() else {}
    engines = json.loads((work / "engines.json").read_text())
    res = {"model": meta["model"], "architecture": meta["architecture"], "params": meta["params"],
           "input": meta["input"], "windows": w, "hop_ms": meta["hop_ms"], "engines": {},
           "versions": {"torch": meta["torch"], **engines.get("ort", {}), **extra.get("versions", {})}}
    logits, lat = {}, {}
    for name, desc, fed in ENGINES:
        lat[name] = np.asarray(json.loads((work / f"latency.{name}.json").read_text()), dtype=np.float64)
        logits[name] = read_f32(work / f"logits.{name}.f32", (w, c))
        res["engines"][name] = {"engine": desc, "fed": fed, **stats(lat[name])}

    # Same windows, same logits: ONNX Runtime against PyTorch and the Go dense pass in float32,
    # and the Go dense pass streaming against the whole window.
    diffs = {}
    for a, b in [("ort", "pytorch"), ("ort", "go-dense-f32"), ("pytorch", "go-dense-f32"),
                 ("go-dense-window", "go-dense")]:
        diffs[f"{a} vs {b}"] = float(np.max(np.abs(logits[a] - logits[b])))
    res["max_abs_logit_diff"] = diffs
    fail = {k: v for k, v in diffs.items() if v > TOLERANCE}
    d, e = logits["go-delta"], logits["go-dense"]
    res["delta_vs_dense"] = {"max_abs_logit_diff": float(np.max(np.abs(d - e))),
                             "argmax_agreement": float(np.mean(d.argmax(1) == e.argmax(1)))}
    q, f = logits["go-dense"], logits["go-dense-f32"]
    res["mlp_vs_float32"] = {"mlp": meta.get("mlp") or "float32", "max_abs_logit_diff": float(np.max(np.abs(q - f))),
                             "argmax_agreement": float(np.mean(q.argmax(1) == f.argmax(1)))}
    # Two views of each ratio: of the medians, and the median of the ratios window by window
    # (each pair measured within milliseconds of each other: robust to the machine's load).
    ratios = {}
    for a, b in RATIOS:
        paired = lat[a] / lat[b]
        ratios[f"{a} / {b}"] = {"of_medians": res["engines"][a]["median_ms"] / res["engines"][b]["median_ms"],
                                "paired_median": float(np.nanmedian(paired))}
    res["latency_ratios"] = ratios
    res.update({k: v for k, v in extra.items() if k != "versions"})
    res["go"] = engines.get("go", {})

    hop_s = meta["hop_ms"] / 1000
    a = meta["architecture"]
    print(f"\nmodel: {meta['model']} (d={a['dim']}, {a['depth']} layers, {a['heads']} head(s), MLP {a['mlp_dim']}, "
          f"{a['frames']} frames, {a['classes']} classes; {meta['params']} parameters)")
    print(f"\nLatency per inference, single thread, on the same {w} windows ({meta['frames']} frames x "
          f"{meta['coeffs']} MFCC,\nhop {meta['hop_ms']} ms) of {Path(meta['input']).name}. The engines ran in "
          "lockstep, window by window, in rotating order.\nONNX Runtime and PyTorch get the whole window every "
          "hop, as they would be deployed; the Go streaming\nrows are fed frame by frame as the daemon is (a hop = "
          f"its {meta['hop_frames']} new frames' embeddings + one forward pass +\nsoftmax + detector).\n")
    print("| engine | fed | median (ms) | p90 (ms) | p10 (ms) | samples | CPU at this hop |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, e in res["engines"].items():
        print(f"| {name}: {e['engine']} | {e['fed']} | {e['median_ms']:.3f} | {e['p90_ms']:.3f} | "
              f"{e['p10_ms']:.3f} | {e['n']} | {100 * e['median_ms'] / 1e3 / hop_s:.1f} % |")
    print("\n| latency ratio | of the medians | median of per-window ratios |")
    print("| --- | ---: | ---: |")
    for k, v in ratios.items():
        r = v["paired_median"]
        print(f"| {k} | {v['of_medians']:.3f} | {r:.3f} ({1 / r:.2f}x {'faster' if r < 1 else 'slower'}) |")
    print("\nmax |logit difference| on the same windows (tolerance %g):" % TOLERANCE)
    for k, v in diffs.items():
        print(f"  {k}: {v:.2e}{'  FAIL' if v > TOLERANCE else ''}")
    dd = res["delta_vs_dense"]
    print(f"  go-delta vs go-dense (delta pruning, not an error): {dd['max_abs_logit_diff']:.3f}; "
          f"top class equal on {100 * dd['argmax_agreement']:.1f} % of windows")
    mq = res["mlp_vs_float32"]
    print(f"  go-dense vs go-dense-f32 (the model's {mq['mlp']} MLPs, not an error): {mq['max_abs_logit_diff']:.3f}; "
          f"top class equal on {100 * mq['argmax_agreement']:.1f} % of windows")
    print_extra(res, meta)
    (work / "results.json").write_text(json.dumps(res, indent=2) + "\n")
    if fail:
        print(f"\ncost.py: logits disagree beyond {TOLERANCE}: {fail}", file=sys.stderr)
        sys.exit(1)


# DESIGN.md, "Measurement": a published reference, not measured by this script.
ORT_ARM64_REFERENCE = ("ONNX Runtime's arm64 build executes about 36.5 M instructions per inference "
                       "under qemu -cpu cortex-a76 for a random-weight KWT-1 of 98 frames "
                       "(DESIGN.md; not measured here)")


def print_extra(res, meta):
    go = res.get("go", {})
    if go:
        macs = go.get("macs_per_inference", {})
        print(f"\ndelta thresholds: {go.get('delta_thresholds')} ({res.get('delta_thresholds_source', '?')})")
        if macs:
            print("MACs per inference: " + ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in macs.items()))
        print(f"Go kernels: {go.get('kernels')}")
    hop_s = meta["hop_ms"] / 1000
    ig, io = res.get("icount.go"), res.get("icount.ort")
    if ig or io:
        print(f"\narm64 instructions under qemu-aarch64 -cpu cortex-a76 (deterministic; {1 / hop_s:g} inferences "
              "per second of audio):\n")
        print("| engine | what is counted | instructions per inference | instructions per second of audio |")
        print("| --- | --- | ---: | ---: |")
        if ig and "not_measured" in ig:
            print(f"| this engine | not measured: {ig['not_measured']} | | |")
        for path in ("delta", "dense"):
            if ig and path in ig:
                print(f"| go-{path} (NEON) | whole pipeline: MFCC, embedding, forward, softmax, detector "
                      f"| {ig[path]['instructions_per_inference'] / 1e6:.2f} M "
                      f"| {ig[path]['instructions_per_audio_s'] / 1e6:.1f} M |")
        if io and "instructions_per_inference" in io:
            print(f"| ort (onnxruntime-node linux/arm64 on Debian's arm64 Node 18) | session.run on the whole window, one per hop "
                  f"| {io['instructions_per_inference'] / 1e6:.2f} M | {io['instructions_per_audio_s'] / 1e6:.1f} M |")
            if ig and "delta" in ig:
                r = ig["delta"]["instructions_per_inference"] / io["instructions_per_inference"]
                res.setdefault("icount_ratios", {})["go-delta / ort"] = r
                print(f"\ninstructions per inference, go-delta / ort: {r:.3f} ({1 / r:.2f}x fewer)")
            if ig and "dense" in ig:
                r = ig["dense"]["instructions_per_inference"] / io["instructions_per_inference"]
                res.setdefault("icount_ratios", {})["go-dense / ort"] = r
        else:
            why = io.get("not_measured", "skipped") if io else "skipped"
            print(f"\nONNX Runtime arm64: not measured here ({why}). Reference: {ORT_ARM64_REFERENCE}.")
            res["ort_arm64_reference"] = ORT_ARM64_REFERENCE
    rts = [(k, res[k]) for k in ("rt.jack", "rt.file") if k in res]
    if rts:
        print("\nThe daemon on real-time audio (CPU = utime+stime / wall time from /proc/PID/stat over the "
              "steady state; peak RSS = VmHWM):\n")
        print("| input | CPU % of one core | peak RSS (MiB) | of which anonymous / shared memory at the end (MiB) "
              "| measured over |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for k, r in rts:
            if "not_measured" in r:
                print(f"| {k} | not measured: {r['not_measured']} | | | |")
                continue
            print(f"| `{r['how']}` | {r['cpu_percent']:.2f} % | {r['peak_rss_mib']:.1f} "
                  f"| {r.get('rss_anon_mib', 0):.1f} / {r.get('rss_shmem_mib', 0):.1f} | {r['wall_s']:.0f} s |")


def spread(out, paths):
    """The latency ratios of several independent runs (results.json each): per ratio the
    least, the median and the greatest, of the medians and of the per-window ratios."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    if not runs:
        raise SystemExit("cost.py spread: no results")
    res = {"runs": len(runs), "cpu": runs[0].get("cpu"), "dates": sorted({r.get("date") for r in runs}),
           "latency_ratios": {}, "median_ms": {}}
    for key in runs[0]["latency_ratios"]:
        view = {}
        for v in ("of_medians", "paired_median"):
            xs = sorted(r["latency_ratios"][key][v] for r in runs)
            view[v] = {"min": xs[0], "median": float(np.median(xs)), "max": xs[-1], "all": xs}
        res["latency_ratios"][key] = view
    for name in runs[0]["engines"]:
        xs = sorted(r["engines"][name]["median_ms"] for r in runs)
        res["median_ms"][name] = {"min": xs[0], "median": float(np.median(xs)), "max": xs[-1]}
    print(f"\n{len(runs)} independent runs on {res['cpu']}: the spread of each latency ratio "
          "(least, median, greatest)\n")
    print("| latency ratio | of the medians | median of per-window ratios |")
    print("| --- | ---: | ---: |")
    for key, view in res["latency_ratios"].items():
        a, b = view["of_medians"], view["paired_median"]
        print(f"| {key} | {a['min']:.3f}, **{a['median']:.3f}**, {a['max']:.3f} | "
              f"{b['min']:.3f}, **{b['median']:.3f}**, {b['max']:.3f} |")
    print("\n| engine | median latency (ms): least, median, greatest |")
    print("| --- | ---: |")
    for name, v in res["median_ms"].items():
        print(f"| {name} | {v['min']:.3f}, **{v['median']:.3f}**, {v['max']:.3f} |")
    Path(out).write_text(json.dumps(res, indent=2) + "\n")


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "prepare" and len(args) == 3:
        prepare(*args)
    elif cmd == "bench" and len(args) == 4:
        bench(args[0], args[1], args[2], int(args[3]))
    elif cmd == "has-delta" and len(args) == 1:
        _, meta = read_safetensors(args[0])
        sites = json.loads(meta.get("delta", "{}")).get("sites", {})
        sys.exit(0 if any(any(v > 0 for v in th) for th in sites.values()) else 1)
    elif cmd == "report" and len(args) == 1:
        report(args[0])
    elif cmd == "spread" and len(args) >= 2:
        spread(args[0], args[1:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
