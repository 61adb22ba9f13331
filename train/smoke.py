"""Smoke test of the training and export code path; needs no data and runs in seconds.

    /usr/bin/python3 train/smoke.py OUTDIR

Trains a tiny KWT (dim 16, depth 2, 2 heads, MLP 32, 20 frames, 4 classes) for a few
steps on random frames, with a non-trivial MFCC normalisation, and exports it with the
same code as a real model: OUTDIR/model.safetensors and OUTDIR/model.golden.safetensors.
The last steps run as the delta forward pass (kwt.held), distilled from the dense model, as
train/delta_finetune.py does, and the file stores those delta thresholds. The same runs
again for a streaming KWT (context 4): OUTDIR/stream.safetensors and its golden file.
The Go loader's tests compare their dense and delta forward passes with the golden logits.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from distill import distillation_loss  # noqa: E402
from export import export  # noqa: E402
from kwt import DELTA_SITES, KWT, KWTConfig  # noqa: E402

CLASSES = ["silence", "unknown", "yes", "no"]


def check_distillation(hard, soft, logits, y):
    """A student that matches its teacher has no KL term: only the weighted label loss is left."""
    got = float(distillation_loss(hard, soft, 0.5, 2.0)(logits, y))
    want = 0.5 * float(hard(logits, y))
    if abs(got - want) > 1e-5:
        sys.exit(f"smoke: distillation loss {got} for a student equal to its teacher, want {want}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: smoke.py OUTDIR")
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    smoke(out / "model.safetensors", context=0)
    smoke(out / "stream.safetensors", context=4)


def smoke(path, context):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    cfg = KWTConfig(dim=16, depth=2, heads=2, mlp_dim=32, frames=20, coeffs=40, classes=len(CLASSES),
                    context=context)
    model = KWT(cfg)
    # Raw frames look like MFCCs: a large, negative c0 and smaller higher coefficients.
    scale = np.concatenate([[40.0], np.linspace(8.0, 1.0, 39)]).astype(np.float32)
    shift = np.concatenate([[-120.0], np.zeros(39)]).astype(np.float32)
    # Frames change slowly, as speech does, so the delta pass holds many elements.
    noise = rng.standard_normal((64, cfg.frames, cfg.coeffs))
    for t in range(1, cfg.frames):
        noise[:, t] = 0.9 * noise[:, t - 1] + 0.45 * noise[:, t]
    x = (noise * scale + shift).astype(np.float32)
    y = rng.integers(0, cfg.classes, 64)
    flat = x.reshape(-1, cfg.coeffs)
    model.set_normalisation(flat.mean(0), flat.std(0))

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    delta = {site: [0.3, 0.5] for site in DELTA_SITES}
    delta["values"] = [0.01, 0.02]  # probabilities, far smaller than activations
    if context:  # a streaming model's attention has no delta sites
        del delta["scores"], delta["values"]
    hard = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    for step in range(12):
        lossf = hard
        model.set_delta(None)
        if step >= 10:
            with torch.no_grad():
                dense = model.eval()(xt)
            soft = torch.softmax(dense / 2.0, 1)
            check_distillation(hard, soft, dense, yt)
            lossf = distillation_loss(hard, soft, 0.5, 2.0)
            model.set_delta(delta)
        loss = lossf(model.train()(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.set_delta(None)
    with torch.no_grad():
        pred = model.eval()(xt).argmax(1).numpy()
    per_class = {c: round(float(np.mean(pred[y == i] == i)), 4) for i, c in enumerate(CLASSES) if np.any(y == i)}
    validation = {"accuracy": round(float(np.mean(pred == y)), 4), "per_class": per_class,
                  "note": "smoke test: accuracy on its own random training data"}
    logits, err = export(model, path, CLASSES, x[:8],
                         training={"smoke": True, "steps": 12, "final_loss": round(float(loss), 4)},
                         validation=validation, delta=delta)
    print(f"smoke: wrote {path} and its golden file "
          f"({len(logits)} windows, numpy vs torch max error {err:.2g}, loss {float(loss):.3f})")


if __name__ == "__main__":
    main()
