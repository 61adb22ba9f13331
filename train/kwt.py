"""Keyword Transformer (KWT, Berg et al. 2021) as stored in a wakewordd model file.

The module and parameter names are the tensor names of models/FORMAT.md:

    embed.{weight,bias}, cls, pos,
    layers.{i}.attn.{q,k,v}.weight, layers.{i}.attn.out.{weight,bias},
    layers.{i}.norm1.{weight,bias}, layers.{i}.mlp.fc1.{weight,bias},
    layers.{i}.mlp.fc2.{weight,bias}, layers.{i}.norm2.{weight,bias},
    head.{weight,bias}

Per-coefficient MFCC normalisation is held in two non-persistent buffers
(`feat_mean`, `feat_std`) during training; `export.py` folds them into
`embed.weight` and `embed.bias`, so the file's model takes raw frames.
"""

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

    def to_json(self):
        return asdict(self)


class Attention(nn.Module):
    """Multi-head self-attention: Q/K/V without bias, output projection with bias.

    Head h uses the slice [h*d/heads, (h+1)*d/heads) of q, k and v; the head outputs
    are concatenated in head order before `out`.
    """

    def __init__(self, dim, heads):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        h = self.heads
        dh = d // h

        def split(y):
            return y.view(b, t, h, dh).transpose(1, 2)  # [b, h, t, dh]

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh)
        o = torch.matmul(scores.softmax(dim=-1), v)  # [b, h, t, dh]
        return self.out(o.transpose(1, 2).reshape(b, t, d))


class MLP(nn.Module):
    """fc1 -> exact (erf) GELU -> fc2."""

    def __init__(self, dim, mlp_dim, dropout=0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.fc2(self.drop(F.gelu(self.fc1(x))))


class Layer(nn.Module):
    """Post-norm encoder layer: x = LN1(x + MHSA(x)); x = LN2(x + MLP(x))."""

    def __init__(self, cfg, dropout=0.0):
        super().__init__()
        self.attn = Attention(cfg.dim, cfg.heads)
        self.norm1 = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        self.mlp = MLP(cfg.dim, cfg.mlp_dim, dropout)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        x = self.norm1(x + self.drop(self.attn(x)))
        return self.norm2(x + self.drop(self.mlp(x)))


class KWT(nn.Module):
    """KWT over windows of `frames` MFCC frames; returns logits from the class token."""

    def __init__(self, cfg, dropout=0.0):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Linear(cfg.coeffs, cfg.dim)
        self.cls = nn.Parameter(torch.zeros(cfg.dim))
        self.pos = nn.Parameter(torch.randn(cfg.frames + 1, cfg.dim) * 0.02)
        self.layers = nn.ModuleList([Layer(cfg, dropout) for _ in range(cfg.depth)])
        self.head = nn.Linear(cfg.dim, cfg.classes)
        self.register_buffer("feat_mean", torch.zeros(cfg.coeffs), persistent=False)
        self.register_buffer("feat_std", torch.ones(cfg.coeffs), persistent=False)
        nn.init.normal_(self.cls, std=0.02)

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
        cls = self.cls.expand(b, 1, -1)
        x = torch.cat([cls, tok], dim=1) + self.pos
        for layer in self.layers:
            x = layer(x)
        return self.head(x[:, 0])

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
