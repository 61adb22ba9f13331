#!/usr/bin/python3
"""Writes the golden files for frontend/golden_test.go.

An independent float64 reference of the wakewordd MFCC frontend, written from
the spec in DESIGN.md ("The model") with numpy only, not from the Go code:

  16 kHz; frame i = samples [160 i, 160 i + 480), no padding or centring;
  periodic Hann window; zero-pad to 512 at the end; |rfft| (magnitude);
  80 triangular HTK-mel filters over 20-7600 Hz evaluated at the bin
  frequencies, peak 1, no area normalisation; log(max(x, 1e-12));
  orthonormal DCT-II, first 40 coefficients.

For each test signal it saves the input as float32 (the reference is computed
from those float32 values) and the expected MFCC as float64, shape (frames, 40):

  frontend/testdata/<name>.in.npy     float32, (n,)
  frontend/testdata/<name>.mfcc.npy   float64, (frames, 40)

The files are committed; rerun only when the spec or the signals change:

  /usr/bin/python3 scripts/gen_frontend_golden.py
"""

import os
import sys

import numpy as np

SR = 16000
WIN = 480
HOP = 160
NFFT = 512
NMELS = 80
FMIN, FMAX = 20.0, 7600.0
NCOEFFS = 40
FLOOR = 1e-12

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "frontend", "testdata")


def mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def inv_mel(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def filterbank():
    """(NMELS, NFFT//2+1) triangles; row j rises from edge j to edge j+1, falls to edge j+2."""
    freqs = np.arange(NFFT // 2 + 1) * (SR / NFFT)
    edges = inv_mel(np.linspace(mel(FMIN), mel(FMAX), NMELS + 2))
    fb = np.zeros((NMELS, freqs.size))
    for j in range(NMELS):
        lo, mid, hi = edges[j], edges[j + 1], edges[j + 2]
        rising = (freqs - lo) / (mid - lo)
        falling = (hi - freqs) / (hi - mid)
        fb[j] = np.clip(np.minimum(rising, falling), 0.0, None)
    return fb


def dct_ortho():
    """(NCOEFFS, NMELS): the first rows of the orthonormal DCT-II matrix."""
    k = np.arange(NMELS)[:, None]
    n = np.arange(NMELS)[None, :]
    d = np.cos(np.pi * k * (2 * n + 1) / (2 * NMELS)) * np.sqrt(2.0 / NMELS)
    d[0] *= np.sqrt(0.5)
    assert np.allclose(d @ d.T, np.eye(NMELS), atol=1e-12), "DCT not orthonormal"
    return d[:NCOEFFS]


def mfcc(x):
    x = x.astype(np.float64)
    nframes = (len(x) - WIN) // HOP + 1
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / WIN)  # periodic
    fb, d = filterbank(), dct_ortho()
    out = np.empty((nframes, NCOEFFS))
    lowest = np.inf
    for i in range(nframes):
        spec = np.abs(np.fft.rfft(x[i * HOP:i * HOP + WIN] * window, n=NFFT))
        energies = fb @ spec
        lowest = min(lowest, energies.min())
        out[i] = d @ np.log(np.maximum(energies, FLOOR))
    return out, lowest


def signals():
    rng = np.random.default_rng(20261128)
    t = lambda n: np.arange(n) / SR

    # Exponential chirp 60 Hz -> 7 kHz plus noise; length not a multiple of the hop.
    n = 20837
    f0, f1, dur = 60.0, 7000.0, n / SR
    k = np.log(f1 / f0) / dur
    chirp = 0.5 * np.sin(2 * np.pi * f0 * (np.exp(k * t(n)) - 1) / k)
    yield "chirp_noise", chirp + 0.01 * rng.standard_normal(n)

    # Quiet white noise.
    yield "noise_low", 0.01 * rng.standard_normal(8000 + 77)

    # Tones across the band, one right at the mel range's top, one near DC, one off-bin.
    n = 16000
    tones = sum(a * np.sin(2 * np.pi * f * t(n) + p)
                for a, f, p in [(0.3, 220, 0.1), (0.2, 1000, 1.0), (0.1, 3150.5, 2.0),
                                (0.05, 7599, 0.3), (0.02, 33, 0.0), (0.1, 5003.3, 0.7)])
    yield "tones", tones + 1e-3 * rng.standard_normal(n)

    # Silence-ish gaps between loud bursts: dither at about -80 dBFS keeps every mel
    # band far above the log floor, so the comparison is not about the floor.
    n = 16000 + 123
    x = 1e-4 * rng.standard_normal(n)
    for start, length, f in [(1000, 2400, 440.0), (7000, 1600, 2500.0), (12000, 3000, None)]:
        env = np.hanning(length)
        burst = 0.9 * rng.standard_normal(length) if f is None else 0.8 * np.sin(2 * np.pi * f * t(length))
        x[start:start + length] += np.clip(env * burst, -0.99, 0.99)
    yield "bursts", x


def main():
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for name, x in signals():
        x32 = np.clip(x, -1.0, np.nextafter(np.float32(1.0), np.float32(0.0))).astype("<f4")
        ref, lowest = mfcc(x32)
        for suffix, arr in [(".in.npy", x32), (".mfcc.npy", ref.astype("<f8"))]:
            path = os.path.join(OUT, name + suffix)
            np.save(path, np.ascontiguousarray(arr))
            total += os.path.getsize(path)
        print(f"{name}: {len(x32)} samples, {ref.shape[0]} frames, lowest mel energy {lowest:.3g}",
              file=sys.stderr)
    print(f"total {total} bytes in {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
