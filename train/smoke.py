"""Smoke test of the training and export code path; needs no data and runs in seconds.

    /usr/bin/python3 train/smoke.py OUTDIR

Trains a tiny KWT (dim 16, depth 2, 2 heads, MLP 32, 20 frames, 4 classes) for a few
steps on random frames, with a non-trivial MFCC normalisation, and exports it with the
same code as a real model: OUTDIR/model.safetensors and OUTDIR/model.golden.safetensors.
The Go loader's tests compare their forward pass with the golden logits.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from export import export  # noqa: E402
from kwt import KWT, KWTConfig  # noqa: E402

CLASSES = ["silence", "unknown", "yes", "no"]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: smoke.py OUTDIR")
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    cfg = KWTConfig(dim=16, depth=2, heads=2, mlp_dim=32, frames=20, coeffs=40, classes=len(CLASSES))
    model = KWT(cfg)
    # Raw frames look like MFCCs: a large, negative c0 and smaller higher coefficients.
    scale = np.concatenate([[40.0], np.linspace(8.0, 1.0, 39)]).astype(np.float32)
    shift = np.concatenate([[-120.0], np.zeros(39)]).astype(np.float32)
    x = rng.standard_normal((64, cfg.frames, cfg.coeffs)).astype(np.float32) * scale + shift
    y = rng.integers(0, cfg.classes, 64)
    flat = x.reshape(-1, cfg.coeffs)
    model.set_normalisation(flat.mean(0), flat.std(0))

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for step in range(10):
        loss = torch.nn.functional.cross_entropy(model(xt), yt, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()

    with torch.no_grad():
        pred = model.eval()(xt).argmax(1).numpy()
    per_class = {c: round(float(np.mean(pred[y == i] == i)), 4) for i, c in enumerate(CLASSES) if np.any(y == i)}
    validation = {"accuracy": round(float(np.mean(pred == y)), 4), "per_class": per_class,
                  "note": "smoke test: accuracy on its own random training data"}
    logits, err = export(model, out / "model.safetensors", CLASSES, x[:8],
                         training={"smoke": True, "steps": 10, "final_loss": round(float(loss), 4)},
                         validation=validation)
    print(f"smoke: wrote {out / 'model.safetensors'} and model.golden.safetensors "
          f"({len(logits)} windows, numpy vs torch max error {err:.2g}, loss {float(loss):.3f})")


if __name__ == "__main__":
    main()
