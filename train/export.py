"""Writes a trained KWT as a wakewordd model file (models/FORMAT.md) and its golden vectors.

The safetensors container is written directly: an 8-byte little-endian header length,
a JSON header (tensor entries sorted by name, then `__metadata__`, padded with spaces to
a multiple of 8 bytes) and the tensors' float32 little-endian bytes in header order.

Before writing, the folded tensors (MFCC normalisation folded into `embed`) are run
through an independent NumPy forward pass of FORMAT.md on the raw golden frames and
compared with PyTorch's logits, so a file that disagrees with its own golden vectors is
never written.
"""

import json
import struct
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from common import FRONTEND
from kwt import DELTA_SITES_KEY

DEFAULT_DETECTION = {"hop_ms": 100, "threshold": 0.5, "smoothing": 3, "patience": 1,
                     "refractory_s": 2.0}


def write_safetensors(path, tensors, metadata=None):
    """Write {name: array} as float32 safetensors with string metadata."""
    names = sorted(tensors)
    header, blobs, offset = {}, [], 0
    for name in names:
        a = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if metadata:
        header["__metadata__"] = {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
                                  for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    tmp.replace(path)


def golden_path(path):
    """The golden-vector file beside a model file: NAME.safetensors -> NAME.golden.safetensors."""
    p = Path(path)
    stem = p.name[:-len(".safetensors")] if p.name.endswith(".safetensors") else p.name
    return p.with_name(stem + ".golden.safetensors")


def read_safetensors(path):
    """({name: float32 array}, metadata) of a file written by write_safetensors."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        b, en = e["data_offsets"]
        out[name] = np.frombuffer(body[b:en], dtype="<f4").reshape(e["shape"])
    return out, meta


def load_model(path):
    """(KWT, metadata) of a model file: its folded tensors, with identity normalisation,
    and the metadata's JSON values decoded."""
    from kwt import KWT, KWTConfig, delta_sites
    tensors, meta = read_safetensors(path)
    def decode(v):
        try:
            return json.loads(v)
        except ValueError:
            return v  # plain strings: format, created
    meta = {k: decode(v) for k, v in meta.items()}
    try:
        sites = delta_sites(meta)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    model = KWT(KWTConfig(**meta["architecture"]))
    model.delta_sites = sites
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()})
    return model, meta


def unfold_normalisation(model, mean, std):
    """Move a folded model (identity normalisation) back to per-coefficient normalisation
    by mean and std, the form it is trained in; folded_state() gives the same tensors back."""
    with torch.no_grad():
        w = model.embed.weight.double()
        model.embed.bias.copy_((model.embed.bias.double() + w @ torch.as_tensor(mean).double()).float())
        model.embed.weight.copy_((w * torch.as_tensor(std).double()).float())
    model.set_normalisation(mean, std)


def _layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x):
    from scipy.special import erf
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def numpy_forward(t, arch, frames):
    """FORMAT.md's forward pass in float64 NumPy on raw frames [N, T, K] -> logits [N, C]."""
    t = {k: v.astype(np.float64) for k, v in t.items()}
    d, h, eps = arch["dim"], arch["heads"], arch["norm_eps"]
    dh = d // h
    out = []
    context = arch.get("context", 0)
    for f in frames.astype(np.float64):
        x = f @ t["embed.weight"].T + t["embed.bias"]
        if not context:
            x = np.concatenate([t["cls"][None, :], x]) + t["pos"]
        dist = np.arange(len(x))[:, None] - np.arange(len(x))[None, :]
        for i in range(arch["depth"]):
            p = f"layers.{i}."
            q, k, v = (x @ t[p + f"attn.{n}.weight"].T for n in "qkv")
            heads = []
            for j in range(h):
                sl = slice(j * dh, (j + 1) * dh)
                s = q[:, sl] @ k[:, sl].T / np.sqrt(dh)
                if context:
                    bias = t[p + "attn.rel"][j][np.clip(dist, 0, context - 1)]
                    s = np.where((dist >= 0) & (dist < context), s + bias, -np.inf)
                s = np.exp(s - s.max(-1, keepdims=True))
                heads.append((s / s.sum(-1, keepdims=True)) @ v[:, sl])
            a = np.concatenate(heads, -1) @ t[p + "attn.out.weight"].T + t[p + "attn.out.bias"]
            x = _layer_norm(x + a, t[p + "norm1.weight"], t[p + "norm1.bias"], eps)
            m = _gelu(x @ t[p + "mlp.fc1.weight"].T + t[p + "mlp.fc1.bias"])
            m = m @ t[p + "mlp.fc2.weight"].T + t[p + "mlp.fc2.bias"]
            x = _layer_norm(x + m, t[p + "norm2.weight"], t[p + "norm2.bias"], eps)
        out.append(x[-1 if context else 0] @ t["head.weight"].T + t["head.bias"])
    return np.array(out)


def export(model, path, classes, golden_features, training=None, validation=None, detection=None,
           delta=None, tolerance=1e-4):
    """Write `path` and `<stem>.golden.safetensors`; returns the golden logits.

    `golden_features` are raw MFCC frames [N, T, K] (before normalisation). `delta`
    ({site: [theta per layer]}) is stored as the model's delta thresholds, and the golden
    file then also holds `delta_logits`, PyTorch's simulation of the delta forward pass at
    those thresholds (kwt.held), with the thresholds in its metadata.
    """
    model = model.eval()
    saved_delta = model.delta
    model.set_delta(None)
    arch = model.cfg.to_json()
    if len(classes) != arch["classes"]:
        raise ValueError(f"{len(classes)} class names for a model with {arch['classes']} outputs")
    tensors = {k: v.numpy() for k, v in model.folded_state().items()}
    feats = np.ascontiguousarray(golden_features, dtype=np.float32)
    with torch.no_grad():
        logits = model(torch.from_numpy(feats)).numpy().astype(np.float32)
    ref = numpy_forward(tensors, arch, feats)
    err = float(np.max(np.abs(ref - logits))) if len(feats) else 0.0
    if err > tolerance:
        raise RuntimeError(f"export: folded model disagrees with PyTorch by {err:.3g} (> {tolerance})")
    golden_tensors = {"features": feats, "logits": logits}
    golden_meta = {"format": "wakewordd-kwt-golden", "model": Path(path).name,
                   "max_numpy_error": f"{err:.3g}"}
    if delta:
        model.set_delta(delta)
        with torch.no_grad():
            golden_tensors["delta_logits"] = model(torch.from_numpy(feats)).numpy().astype(np.float32)
        golden_meta["delta"] = {"sites": delta}
    model.set_delta(saved_delta)

    det = dict(DEFAULT_DETECTION)
    det["thresholds"] = {c: det["threshold"] for c in classes if c not in ("silence", "unknown")}
    if detection:
        det.update(detection)
    meta = {
        "format": "wakewordd-kwt",
        "format_version": "1",
        "architecture": arch,
        "classes": list(classes),
        "frontend": FRONTEND,
        "detection": det,
        "training": training or {},
        "validation": validation or {},
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    if delta:
        meta["delta"] = {"sites": delta}
    meta[DELTA_SITES_KEY] = list(model.delta_sites)  # as Go's writer: the sites of "delta"
    path = Path(path)
    write_safetensors(path, tensors, meta)
    write_safetensors(golden_path(path), golden_tensors, golden_meta)
    return logits, err
