"""Keyword Transformer (KWT, Berg et al. 2021) as stored in a wakewordd model file.

The module and parameter names are the tensor names of models/FORMAT.md:

    embed.{weight,bias}, cls, pos,
    layers.{i}.attn.{q,k,v}.weight, layers.{i}.attn.out.{weight,bias}, layers.{i}.attn.rel,
    layers.{i}.norm1.{weight,bias}, layers.{i}.mlp.fc1.{weight,bias},
    layers.{i}.mlp.fc2.{weight,bias}, layers.{i}.norm2.{weight,bias},
    head.{weight,bias}

Per-coefficient MFCC normalisation is held in two non-persistent buffers
(`feat_mean`, `feat_std`) during training; `export.py` folds them into
`embed.weight` and `embed.bias`, so the file's model takes raw frames.
"""

import json
import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
import torch.nn.functional as F


@dataclass
class KWTConfig:
    """Architecture of one KWT; `asdict` gives the model file's `architecture` JSON."""

    dim: int = 64
    depth: int = 12
    heads: int = 1
    mlp_dim: int = 256
    frames: int = 148
    coeffs: int = 40
    classes: int = 8
    norm_eps: float = 1e-6
    norm: str = "post"
    # 0: the class token and absolute positions over the whole window (KWT). n > 0: a
    # streaming KWT: each token attends to itself and the n-1 tokens before it, with a
    # learned bias per distance instead of positions, and the last token is classified.
    # With depth*(n-1) < frames, that token sees only frames of its window, so the daemon
    # can compute each frame's token once, when it arrives, and reuse it in every window.
    context: int = 0

    def to_json(self):
        d = asdict(self)
        if not self.context:
            del d["context"]  # files of the window KWT keep their original architecture
        return d


# The delta sites this code simulates (KWT.set_delta, held), in site order. The list's one
# source is Go's infer.DeltaSiteNames: model files carry it under the metadata key
# "delta_sites" (the Go writer and export.py write it), a model loaded from a file takes
# its sites from there (delta_sites), and a file that lists other sites is refused.
DELTA_SITES = ("qkv", "scores", "values", "out", "fc1", "fc2")
DELTA_SITES_KEY = "delta_sites"


def delta_sites(meta):
    """The delta sites of a model file's metadata: its "delta_sites" list (the file's JSON
    string, or already decoded), which must be DELTA_SITES, the sites this code implements;
    DELTA_SITES for a file written before the key existed. Raises ValueError otherwise."""
    if DELTA_SITES_KEY not in meta:
        return DELTA_SITES
    v = meta[DELTA_SITES_KEY]
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            v = None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"metadata {DELTA_SITES_KEY!r}: not a JSON list of site names: {meta[DELTA_SITES_KEY]!r}")
    if tuple(v) != DELTA_SITES:
        raise ValueError(f"metadata {DELTA_SITES_KEY!r}: the model file lists the delta sites {v}, "
                         f"train/kwt.py implements {list(DELTA_SITES)} (in this order); "
                         "kwt.py must simulate the sites of Go's infer.DeltaSiteNames")
    return DELTA_SITES


def held(x, theta):
    """The delta forward pass's view of a site input x [..., tokens, width].

    Go's infer.Delta keeps a reference vector per site, zero before the first token: an
    element of token t is propagated (and becomes the reference) when it differs from the
    reference by more than theta; otherwise the reference holds. Summing the propagated
    deltas through a linear map gives exactly the map of the reference, so the delta
    pass equals a dense pass over these held references. Which token each element comes
    from is decided without gradients; gathering from it lets the gradient reach the
    token whose value is held. theta None leaves x as it is (the site runs densely).
    """
    if theta is None:
        return x
    with torch.no_grad():
        xs = x.detach()
        ref = torch.zeros_like(xs[..., 0, :])
        last = torch.full(ref.shape, -1, dtype=torch.long)
        src = torch.empty(xs.shape, dtype=torch.long)
        for t in range(xs.shape[-2]):
            xt = xs[..., t, :]
            keep = (xt - ref).abs() > theta
            ref = torch.where(keep, xt, ref)
            last = last.masked_fill(keep, t)
            src[..., t, :] = last
        never = src < 0  # held at the initial zero reference
    out = torch.gather(x, x.dim() - 2, src.clamp(min=0))
    return out.masked_fill(never, 0.0)


class Attention(nn.Module):
    """Multi-head self-attention: Q/K/V without bias, output projection with bias.

    Head h uses the slice [h*d/heads, (h+1)*d/heads) of q, k and v; the head outputs
    are concatenated in head order before `out`.
    """

    def __init__(self, dim, heads, context=0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.context = context
        if context:
            # rel[h, j]: added to head h's score of the key j tokens before the query
            self.rel = nn.Parameter(torch.zeros(heads, context))
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x, theta=None):
        """theta: the layer's delta thresholds by site name (see held); None runs densely."""
        th = theta or {}
        b, t, d = x.shape
        h = self.heads
        dh = d // h

        def split(y):
            return y.view(b, t, h, dh).transpose(1, 2)  # [b, h, t, dh]

        x = held(x, th.get("qkv"))
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        q = held(q, th.get("scores"))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh)
        if self.context:
            scores = scores + causal_bias(self.rel, t)
        p = held(scores.softmax(dim=-1), th.get("values"))
        o = torch.matmul(p, v)  # [b, h, t, dh]
        return self.out(held(o.transpose(1, 2).reshape(b, t, d), th.get("out")))


def causal_bias(rel, tokens):
    """[heads, tokens, tokens] additive score bias: rel[h, t-j] where 0 <= t-j < context,
    -inf elsewhere (keys after the query or too far before it)."""
    context = rel.shape[-1]
    pos = torch.arange(tokens)
    dist = pos[:, None] - pos[None, :]
    valid = (dist >= 0) & (dist < context)
    return rel[:, dist.clamp(0, context - 1)].masked_fill(~valid, float("-inf"))


class MLP(nn.Module):
    """fc1 -> exact (erf) GELU -> fc2."""

    def __init__(self, dim, mlp_dim, dropout=0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, theta=None):
        th = theta or {}
        hidden = self.drop(F.gelu(self.fc1(held(x, th.get("fc1")))))
        return self.fc2(held(hidden, th.get("fc2")))


class Layer(nn.Module):
    """Post-norm encoder layer: x = LN1(x + MHSA(x)); x = LN2(x + MLP(x))."""

    def __init__(self, cfg, dropout=0.0):
        super().__init__()
        self.attn = Attention(cfg.dim, cfg.heads, cfg.context)
        self.norm1 = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        self.mlp = MLP(cfg.dim, cfg.mlp_dim, dropout)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, theta=None):
        x = self.norm1(x + self.drop(self.attn(x, theta)))
        return self.norm2(x + self.drop(self.mlp(x, theta)))


class KWT(nn.Module):
    """KWT over windows of `frames` MFCC frames; returns logits from the class token."""

    def __init__(self, cfg, dropout=0.0):
        super().__init__()
        self.cfg = cfg
        if cfg.context and cfg.depth * (cfg.context - 1) >= cfg.frames:
            raise ValueError(f"context {cfg.context} over {cfg.depth} layers reaches past a window of {cfg.frames} frames")
        self.embed = nn.Linear(cfg.coeffs, cfg.dim)
        if not cfg.context:
            self.cls = nn.Parameter(torch.zeros(cfg.dim))
            self.pos = nn.Parameter(torch.randn(cfg.frames + 1, cfg.dim) * 0.02)
            nn.init.normal_(self.cls, std=0.02)
        self.layers = nn.ModuleList([Layer(cfg, dropout) for _ in range(cfg.depth)])
        self.head = nn.Linear(cfg.dim, cfg.classes)
        self.register_buffer("feat_mean", torch.zeros(cfg.coeffs), persistent=False)
        self.register_buffer("feat_std", torch.ones(cfg.coeffs), persistent=False)
        self.delta = None  # {site: [theta per layer]}: simulate the delta forward pass
        self.delta_sites = DELTA_SITES  # a loaded model's: its file's "delta_sites" (export.load_model)

    def set_delta(self, sites):
        """Run as Go's delta forward pass with these thresholds ({site: [theta per layer]},
        the model file's `delta.sites`); None or {} runs densely."""
        for name, th in (sites or {}).items():
            if name not in self.delta_sites or len(th) != self.cfg.depth:
                raise ValueError(f"delta site {name!r}: want one of {self.delta_sites} with {self.cfg.depth} thresholds")
            if self.cfg.context and name in ("scores", "values"):
                raise ValueError(f"delta site {name!r}: a streaming model has no delta scores or values")
        self.delta = dict(sites) if sites else None

    def set_normalisation(self, mean, std):
        """Per-coefficient mean and std of raw training frames."""
        self.feat_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.feat_std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def normalise(self, frames):
        return (frames - self.feat_mean) / self.feat_std

    def forward_normalised(self, x):
        """Logits for already normalised frames [batch, frames, coeffs]."""
        b = x.shape[0]
        tok = self.embed(x)
        if self.cfg.context:
            x = tok
        else:
            cls = self.cls.expand(b, 1, -1)
            x = torch.cat([cls, tok], dim=1) + self.pos
        for i, layer in enumerate(self.layers):
            th = {s: t[i] for s, t in self.delta.items()} if self.delta else None
            if th and self.cfg.context and i == self.cfg.depth - 1:
                # The daemon runs the last layer's query side once per hop, densely:
                # only the keys and values see every token.
                th = {s: t for s, t in th.items() if s == "qkv"}
            x = layer(x, th)
        return self.head(x[:, -1 if self.cfg.context else 0])

    def forward(self, frames):
        """Logits for raw MFCC frames [batch, frames, coeffs]."""
        return self.forward_normalised(self.normalise(frames))

    def folded_state(self):
        """state_dict with the normalisation folded into `embed` (the model file's tensors)."""
        sd = {k: v.detach().clone().float() for k, v in self.state_dict().items()}
        w, b = sd["embed.weight"], sd["embed.bias"]
        inv = 1.0 / self.feat_std.detach().double()
        wd = w.double() * inv  # scale each input column
        sd["embed.weight"] = wd.float()
        sd["embed.bias"] = (b.double() - wd @ self.feat_mean.detach().double()).float()
        return sd


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
