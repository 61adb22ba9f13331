"""Hard-negative mining: the training negatives that the current model likes most.

A model that has heard little real speech fires on a handful of its windows (a syllable like
"lex", a cough over a hum); sampling negatives uniformly almost never shows it those. So,
every few minutes of training, the current model scores a large random sample of windows of
every training negative clip (real speech, real noise, synthetic words), placed as the
daemon sees a stream (any start, every 10 ms), and the windows whose strongest keyword
posterior is highest join a pool that a share of every later batch is drawn from, labelled
with their clip's class (`unknown` or `silence`). The pool keeps the best of every round, so
what one round fixed stays in the training mix.
"""

import logging

import numpy as np
import torch

from common import CLASS_INDEX, KEYWORDS
from dataset import cut

log = logging.getLogger("mining")

KEYWORD_IDS = [CLASS_INDEX[k] for k in KEYWORDS]
NEGATIVE_IDS = (CLASS_INDEX["silence"], CLASS_INDEX["unknown"])


class HardNegatives:
    """A bounded pool of mined windows (raw frames) and their labels."""

    def __init__(self, data, frames, rng, capacity=6000):
        self.d, self.n, self.rng, self.capacity = data, frames, rng, capacity
        self.clips = np.flatnonzero(np.isin(data.labels, NEGATIVE_IDS))
        lens = np.array([data.length(int(i)) for i in self.clips])
        # Every start at which a window still holds at least half of the clip's frames.
        self.starts = np.maximum(lens - frames // 2, 1)
        self.x = np.zeros((0, frames, data.feats.shape[1]), np.float32)
        self.y = np.zeros(0, np.int64)
        self.score = np.zeros(0, np.float32)

    def __len__(self):
        return len(self.y)

    def candidates(self, count):
        """`count` random (clip, start) windows, clips weighted by their number of starts."""
        p = self.starts / self.starts.sum()
        which = self.rng.choice(len(self.clips), size=count, p=p)
        starts = (self.rng.random(count) * self.starts[which]).astype(np.int64) - self.n // 4
        xs = np.stack([cut(self.d.clip(int(self.clips[w])), int(s), self.n) for w, s in zip(which, starts)])
        return xs.astype(np.float32), self.d.labels[self.clips[which]].astype(np.int64)

    @torch.no_grad()
    def mine(self, model, mean, std, count=20000, keep=2000, batch=256):
        """Score `count` candidate windows with `model` (as it is set now: dense or at its delta
        thresholds) and merge the `keep` with the highest keyword posterior into the pool."""
        model.eval()
        x, y = self.candidates(count)
        top = np.zeros(len(y), np.float32)
        for i in range(0, len(y), batch):
            xb = torch.from_numpy((x[i:i + batch] - mean) / std)
            post = torch.softmax(model.forward_normalised(xb), 1).numpy()
            top[i:i + batch] = post[:, KEYWORD_IDS].max(1)
        order = np.argsort(-top)[:keep]
        log.info("mined %d windows: keyword posterior >0.5 in %d (%.2f %%), >0.1 in %d; kept top %d "
                 "(lowest kept %.3f)", count, int((top > 0.5).sum()), 100 * float((top > 0.5).mean()),
                 int((top > 0.1).sum()), len(order), float(top[order[-1]]) if len(order) else 0.0)
        self.x = np.concatenate([self.x, x[order]])
        self.y = np.concatenate([self.y, y[order]])
        self.score = np.concatenate([self.score, top[order]])
        if len(self.y) > self.capacity:  # keep the hardest
            best = np.argsort(-self.score)[:self.capacity]
            self.x, self.y, self.score = self.x[best], self.y[best], self.score[best]
        return float((top > 0.5).mean())

    def draw(self, size):
        i = self.rng.integers(len(self.y), size=size)
        return self.x[i], self.y[i]


def mix_into(x, y, pool, share, rng):
    """Replace about `share` of a batch with windows from the pool (in place)."""
    if pool is None or not len(pool) or share <= 0:
        return x, y
    k = int(rng.binomial(len(y), share))
    if k == 0:
        return x, y
    at = rng.choice(len(y), size=k, replace=False)
    hx, hy = pool.draw(k)
    x[at], y[at] = hx, hy
    return x, y
