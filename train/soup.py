"""Averages the weights of model files fine-tuned from one start (a "model soup").

    /usr/bin/python3 train/soup.py --out soup.safetensors A.safetensors B.safetensors ...

Runs of the same model from the same weights end near each other, and their average often
carries to new speakers better than any one of them. Every file must hold the same tensors
with the same shapes. The output takes its metadata (detection settings, delta thresholds,
MLP arithmetic) from the first file and records the sources in its training summary. Where the
first file has golden vectors (`<stem>.golden.safetensors`), the output gets its own on the same
features: PyTorch's logits of the averaged weights, and its delta logits at the golden file's
thresholds, which the Go tests compare with infer.Forward and infer.Delta.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export import golden_path, load_model, read_safetensors, write_safetensors  # noqa: E402


def soup(paths):
    """(mean tensors, metadata of the first file with the sources added)."""
    if len(paths) < 2:
        raise ValueError("soup: want at least two model files")
    files = [read_safetensors(p) for p in paths]
    first, meta = files[0]
    for p, (t, _) in zip(paths[1:], files[1:]):
        if set(t) != set(first):
            raise ValueError(f"soup: {p} holds other tensors than {paths[0]}: "
                             f"{sorted(set(t) ^ set(first))[:4]}")
        for k, v in t.items():
            if v.shape != first[k].shape:
                raise ValueError(f"soup: {p}: tensor {k} has shape {v.shape}, {paths[0]} {first[k].shape}")
    out = {k: np.mean([t[k].astype(np.float64) for t, _ in files], 0).astype(np.float32) for k in first}
    meta = dict(meta)
    training = json.loads(meta.get("training", "{}"))
    # Names alone repeat across training rounds; the hashes tell the sources apart.
    training["soup"] = [f"{Path(p).name} sha256 {hashlib.sha256(Path(p).read_bytes()).hexdigest()[:12]}"
                        for p in paths]
    meta["training"] = json.dumps(training, separators=(",", ":"))
    return out, meta


def write_golden(model_path, source_golden):
    """`model_path`'s golden file from the features (and delta thresholds) of another one."""
    g, gmeta = read_safetensors(source_golden)
    feats = torch.from_numpy(np.array(g["features"], dtype=np.float32))
    model, _ = load_model(model_path)
    model.eval()
    tensors = {"features": feats.numpy()}
    meta = {"format": gmeta.get("format", "wakewordd-kwt-golden"), "model": Path(model_path).name}
    with torch.no_grad():
        tensors["logits"] = model(feats).numpy()
        if "delta" in gmeta:
            model.set_delta(json.loads(gmeta["delta"])["sites"])
            tensors["delta_logits"] = model(feats).numpy()
            meta["delta"] = gmeta["delta"]
    out = golden_path(model_path)
    write_safetensors(out, tensors, meta)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    try:
        tensors, meta = soup(args.models)
    except (ValueError, OSError) as e:
        raise SystemExit(str(e))
    write_safetensors(args.out, tensors, meta)
    print(f"wrote {args.out}: the mean of {len(args.models)} models")
    if golden_path(args.models[0]).exists():
        print(f"wrote {write_golden(args.out, golden_path(args.models[0]))}")


if __name__ == "__main__":
    main()
