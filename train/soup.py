"""Averages the weights of model files fine-tuned from one start (a "model soup").

    /usr/bin/python3 train/soup.py --out soup.safetensors A.safetensors B.safetensors ...

Runs of the same model from the same weights end near each other, and their average often
carries to new speakers better than any one of them. Every file must hold the same tensors
with the same shapes. The output takes its metadata (detection settings, delta thresholds,
MLP arithmetic) from the first file and records the sources in its training summary; it has no
golden vectors, so write them with export.py before shipping it.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export import read_safetensors, write_safetensors  # noqa: E402


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
    training["soup"] = [Path(p).name for p in paths]
    meta["training"] = json.dumps(training, separators=(",", ":"))
    return out, meta


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


if __name__ == "__main__":
    main()
