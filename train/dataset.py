"""Windows of MFCC frames for training and evaluation.

A packed split (see prepare.py) holds clip variants with their speech region. Training
windows are drawn on the fly:

* keyword: the whole keyword inside the window, at a random position (random shift); a
  share of them (`recent_share`) end 2-12 frames after the keyword, as the window a
  streaming detector scores right after someone stops speaking, so that the score peaks
  then and not a few hops later;
* partial keyword -> `unknown`: a window that holds only the first or the last part of a
  keyword (e.g. "smart" of "smart mirror"), so a window that caught half of the phrase
  never learns to fire;
* unknown: a window over some of the speech of a negative clip;
* silence: any window of a background clip.

Evaluation uses one window per clip: the best-energy window, centred on the speech region
found by the energy detector (any fixed window for background clips).
"""

import numpy as np

from common import CLASS_INDEX, CLASSES, KEYWORDS

SILENCE, UNKNOWN = CLASS_INDEX["silence"], CLASS_INDEX["unknown"]
KEYWORD_IDS = [CLASS_INDEX[k] for k in KEYWORDS]


class Packed:
    """One split's clip variants: frames, speech regions, labels, ids and sources."""

    def __init__(self, path):
        z = np.load(path)
        self.feats = z["feats"]
        self.offsets = z["offsets"]
        self.regions = z["regions"]
        self.labels = z["labels"]
        self.variants = z["variants"]
        self.ids = z["ids"]
        self.sources = z["sources"]

    def __len__(self):
        return len(self.labels)

    def clip(self, i):
        return self.feats[self.offsets[i]:self.offsets[i + 1]]

    def length(self, i):
        return int(self.offsets[i + 1] - self.offsets[i])


def cut(frames, start, n):
    """frames[start:start+n], repeating the edge frames where the window leaves the clip."""
    T = len(frames)
    idx = np.clip(np.arange(start, start + n), 0, T - 1)
    return frames[idx]


def centred_start(region, length, n):
    """Start of the window of n frames centred on a region, kept inside the clip if possible."""
    s, e = region
    start = (s + e) // 2 - n // 2
    return int(max(min(start, length - n), 0)) if length >= n else int((length - n) // 2)


class Sampler:
    """Draws labelled training windows from a packed split."""

    def __init__(self, data, frames, rng, class_weights=None, real_share=0.6, partial_share=0.25,
                 margin=8, real_negative_share=0.5, confusable_share=0.1, recent_share=0.0,
                 recent=(2, 12)):
        self.d, self.n, self.rng = data, frames, rng
        self.recent_share, self.recent = recent_share, recent
        self.margin, self.real_share, self.partial_share = margin, real_share, partial_share
        self.real_negative_share, self.confusable_share = real_negative_share, confusable_share
        lab, src = data.labels, data.sources
        real_neg = np.char.startswith(src.astype(str), "real-")
        # Negatives recorded from real people and rooms, drawn for `real_negative_share` of the
        # silence and unknown windows when the split has them.
        self.real_neg = {c: np.flatnonzero((lab == c) & real_neg) for c in (SILENCE, UNKNOWN)}
        self.other_neg = {c: np.flatnonzero((lab == c) & ~real_neg) for c in (SILENCE, UNKNOWN)}
        self.confusable = np.flatnonzero(src == "real-confusable")
        self.by_class = {c: np.flatnonzero(lab == c) for c in range(len(CLASSES))}
        self.real = {c: np.flatnonzero((lab == c) & (src == "real")) for c in KEYWORD_IDS}
        self.synth = {c: np.flatnonzero((lab == c) & (src != "real")) for c in KEYWORD_IDS}
        self.keyword_clips = np.flatnonzero(np.isin(lab, KEYWORD_IDS))
        w = class_weights or {"silence": 0.12, "unknown": 0.28}
        rest = (1.0 - sum(w.values())) / len(KEYWORDS)
        p = np.array([w.get(c, rest) for c in CLASSES], np.float64)
        have = np.array([len(self.by_class[c]) > 0 for c in range(len(CLASSES))])
        p = p * have
        self.class_p = p / p.sum()

    def _keyword_window(self, c):
        pool = self.real[c] if (len(self.real[c]) and (self.rng.random() < self.real_share
                                                      or not len(self.synth[c]))) else self.synth[c]
        i = int(pool[self.rng.integers(len(pool))])
        s, e = self.d.regions[i]
        L, n, m = self.d.length(i), self.n, self.margin
        if self.recent_share > 0 and self.rng.random() < self.recent_share:
            start = e - n + int(self.rng.integers(self.recent[0], self.recent[1] + 1))
            if start <= s:  # the keyword's start still inside
                return cut(self.d.clip(i), start, n)
        lo, hi = e - n + m, s - m  # window start range keeping [s, e) inside with a margin
        lo, hi = max(lo, min(0, L - n)), min(hi, max(L - n, 0))
        if lo <= hi:
            start = int(self.rng.integers(lo, hi + 1))
        else:  # region longer than the window: centre it with a little jitter
            start = centred_start((s, e), L, n) + int(self.rng.integers(-5, 6))
        return cut(self.d.clip(i), start, n)

    def _partial_window(self):
        i = int(self.keyword_clips[self.rng.integers(len(self.keyword_clips))])
        s, e = self.d.regions[i]
        keep = int(max(e - s, 1) * self.rng.uniform(0.2, 0.5))
        if self.rng.random() < 0.5:  # only the beginning: the window ends inside the keyword
            start = s + keep - self.n
        else:  # only the end: the window starts inside the keyword
            start = e - keep
        return cut(self.d.clip(i), start, self.n)

    def _speech_window(self, i):
        s, e = self.d.regions[i]
        L, n = self.d.length(i), self.n
        centre = int(self.rng.integers(s, max(e, s + 1)))
        start = centre - n // 2 + int(self.rng.integers(-n // 3, n // 3 + 1))
        start = max(min(start, L - n), 0) if L >= n else (L - n) // 2
        return cut(self.d.clip(i), start, n)

    def _background_window(self, i):
        L, n = self.d.length(i), self.n
        start = int(self.rng.integers(0, L - n + 1)) if L > n else (L - n) // 2
        return cut(self.d.clip(i), start, n)

    def _negative_pool(self, c):
        real, other = self.real_neg[c], self.other_neg[c]
        if c == UNKNOWN and len(self.confusable) and self.rng.random() < self.confusable_share:
            return self.confusable
        if len(real) and (not len(other) or self.rng.random() < self.real_negative_share):
            return real
        return other if len(other) else self.by_class[c]

    def batch(self, size):
        """(x [size, frames, coeffs] float32, y [size] int64)."""
        ys = self.rng.choice(len(CLASSES), size=size, p=self.class_p)
        xs = []
        for c in ys:
            if c in KEYWORD_IDS:
                xs.append(self._keyword_window(c))
            elif c == UNKNOWN and len(self.keyword_clips) and self.rng.random() < self.partial_share:
                xs.append(self._partial_window())
            else:
                pool = self._negative_pool(c)
                i = int(pool[self.rng.integers(len(pool))])
                xs.append(self._background_window(i) if c == SILENCE else self._speech_window(i))
        return np.stack(xs).astype(np.float32), ys.astype(np.int64)


def eval_windows(data, frames, variants=(0,), background_hop=None):
    """Best-energy windows of every clip variant in `variants`: (x, y, clip index).

    Background clips give one window from their start, or, with `background_hop`, all
    windows at that hop (the unseen noise recordings are evaluated this way).
    """
    xs, ys, idx = [], [], []
    for i in range(len(data)):
        if data.variants[i] not in variants:
            continue
        f, L = data.clip(i), data.length(i)
        if data.labels[i] == SILENCE and background_hop:
            starts = range(0, max(L - frames, 0) + 1, background_hop)
        elif data.labels[i] == SILENCE:
            starts = [0]
        else:
            starts = [centred_start(tuple(data.regions[i]), L, frames)]
        for s in starts:
            xs.append(cut(f, s, frames))
            ys.append(int(data.labels[i]))
            idx.append(i)
    return np.stack(xs).astype(np.float32), np.array(ys, np.int64), np.array(idx, np.int64)


def sliding_windows(frames_of_clip, frames, hop):
    """All windows of a clip at `hop` frames, as the daemon sees them (at least one)."""
    L = len(frames_of_clip)
    starts = range(0, max(L - frames, 0) + 1, hop)
    return np.stack([cut(frames_of_clip, s, frames) for s in starts]).astype(np.float32)


def spec_augment(x, rng, time_masks=2, time_width=15, freq_masks=2, freq_width=4, p=0.8):
    """SpecAugment on normalised frames [batch, frames, coeffs] in place: zeroed bands."""
    b, t, k = x.shape
    for j in range(b):
        if rng.random() >= p:
            continue
        for _ in range(time_masks):
            w = int(rng.integers(0, time_width + 1))
            s = int(rng.integers(0, max(1, t - w)))
            x[j, s:s + w, :] = 0.0
        for _ in range(freq_masks):
            w = int(rng.integers(0, freq_width + 1))
            s = int(rng.integers(0, max(1, k - w)))
            x[j, :, s:s + w] = 0.0
    return x
