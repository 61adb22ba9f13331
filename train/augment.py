"""Audio-domain augmentation and synthetic background audio.

Everything here works on mono float32 audio at 16 kHz before the daemon's frontend
computes features:

* `sox_effects`: tempo (speech mode), pitch and reverb through sox;
* `mix_at_snr`: background noise at a given SNR relative to the speech's active power;
* `coloured_noise`, `transients`: synthetic backgrounds (white to brown noise; clicks,
  knocks, clatter and noise bursts);
* `dither`: a 16-bit TPDF noise floor added to every clip, because a microphone never
  delivers digital silence (whose log-mel features would be far outside anything seen
  at run time).
"""

import subprocess

import numpy as np

from common import SAMPLE_RATE, frame_energy_db

SR = SAMPLE_RATE


def dither(x, rng):
    """Add triangular dither at the 16-bit LSB level."""
    lsb = 1.0 / 32768.0
    return (x + lsb * (rng.random(len(x)) - rng.random(len(x)))).astype(np.float32)


def sox_effects(x, tempo=1.0, pitch=0.0, reverb=None):
    """Apply sox `tempo -s`, `pitch` (cents) and `reverb` (reverberance %, room scale %)."""
    effects = []
    if abs(tempo - 1.0) > 1e-3:
        effects += ["tempo", "-s", f"{tempo:.3f}"]
    if abs(pitch) > 1:
        effects += ["pitch", f"{pitch:.0f}"]
    if reverb is not None:
        rev, room = reverb
        effects += ["reverb", f"{rev:.0f}", "50", f"{room:.0f}"]
    if not effects:
        return x
    fmt = ["-t", "f32", "-r", str(SR), "-c", "1"]
    out = subprocess.run(["sox", *fmt, "-", *fmt, "-", *effects, "channels", "1"],
                         input=np.asarray(x, np.float32).tobytes(), capture_output=True,
                         check=True, timeout=60).stdout
    return np.frombuffer(out, dtype=np.float32).copy()


def active_power(x):
    """Mean power of the louder half of the frames (the speech, in a speech clip)."""
    db = frame_energy_db(x)
    if len(db) == 0:
        return float(np.mean(np.square(x)) + 1e-12)
    p = np.power(10.0, db / 10.0)
    top = np.sort(p)[len(p) // 2:]
    return float(np.mean(top) + 1e-12)


def mix_at_snr(x, noise, snr_db):
    """x + noise scaled so that the active power of x is snr_db above the noise's."""
    pn = float(np.mean(np.square(noise)) + 1e-12)
    scale = np.sqrt(active_power(x) / (pn * 10.0 ** (snr_db / 10.0)))
    return (x + scale * noise).astype(np.float32)


def set_peak_db(x, db):
    """Scale x so that its peak is at `db` dBFS."""
    peak = float(np.max(np.abs(x)) + 1e-9)
    return (x * (10.0 ** (db / 20.0) / peak)).astype(np.float32)


def set_rms_db(x, db):
    """Scale x so that its RMS level is `db` dBFS."""
    rms = float(np.sqrt(np.mean(np.square(x))) + 1e-9)
    return (x * (10.0 ** (db / 20.0) / rms)).astype(np.float32)


def coloured_noise(n, rng, exponent=None):
    """Noise with a 1/f^exponent power spectrum (0 white, 1 pink, 2 brown), unit RMS."""
    if exponent is None:
        exponent = rng.uniform(0.0, 2.0)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec *= f ** (-exponent / 2.0)
    y = np.fft.irfft(spec, n)
    return (y / (np.std(y) + 1e-12)).astype(np.float32)


def transients(n, rng):
    """Non-speech transients: clicks, knocks, clatter (damped resonances) and noise bursts."""
    y = np.zeros(n, np.float32)
    kind = rng.integers(4)
    events = int(rng.integers(1, 12))
    for _ in range(events):
        at = int(rng.integers(0, max(1, n - SR // 10)))
        amp = 10.0 ** rng.uniform(-2.0, 0.0)
        if kind == 0:  # clicks: very short decaying broadband pulses
            ln = int(rng.integers(16, 200))
            ev = rng.standard_normal(ln) * np.exp(-np.arange(ln) / (ln / 5.0))
        elif kind == 1:  # knocks and thumps: low damped resonances
            ln = int(rng.integers(800, 4000))
            t = np.arange(ln) / SR
            f0 = rng.uniform(60, 600)
            ev = np.sin(2 * np.pi * f0 * t) * np.exp(-t * rng.uniform(20, 80))
            ev += 0.3 * rng.standard_normal(ln) * np.exp(-t * 200)
        elif kind == 2:  # clatter: several high damped partials (dishes, cutlery)
            ln = int(rng.integers(1600, 8000))
            t = np.arange(ln) / SR
            ev = np.zeros(ln)
            for _ in range(int(rng.integers(2, 6))):
                ev += np.sin(2 * np.pi * rng.uniform(1500, 7000) * t + rng.uniform(0, 6.3)) \
                    * np.exp(-t * rng.uniform(10, 60)) * rng.uniform(0.2, 1.0)
            ev += 0.5 * rng.standard_normal(ln) * np.exp(-t * 300)
        else:  # noise bursts (rustle, blow, scrape)
            ln = int(rng.integers(800, 8000))
            env = np.hanning(ln) ** rng.uniform(0.5, 3.0)
            ev = coloured_noise(ln, rng) * env
        ev = ev[: n - at]
        y[at:at + len(ev)] += amp * ev / (np.max(np.abs(ev)) + 1e-9)
    return y
