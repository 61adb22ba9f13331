"""Shared constants and helpers of the training pipeline: classes, paths, splits,
logging, audio I/O and the energy detector that locates speech in a clip."""

import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

CLASSES = ["silence", "unknown", "alexa", "computer", "jarvis", "smart_mirror", "snowboy", "view_glass"]
KEYWORDS = CLASSES[2:]
CLASS_INDEX = {c: i for i, c in enumerate(CLASSES)}

# How each keyword is spelled for the speech synthesizers.
TTS_SPELLINGS = {
    "alexa": ["alexa"],
    "computer": ["computer"],
    "jarvis": ["jarvis"],
    "smart_mirror": ["smart mirror"],
    "snowboy": ["snowboy", "snow boy"],
    "view_glass": ["view glass"],
}

SAMPLE_RATE = 16000
HOP = 160
WINDOW = 480
FRONTEND = {
    "sample_rate": 16000, "window": 480, "hop": 160, "fft": 512, "mels": 80,
    "fmin": 20, "fmax": 7600, "coeffs": 40, "log_floor": 1e-12,
}
COEFFS = 40

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("DATA", REPO.parent / "shared" / "data")).resolve()
CACHE = Path(os.environ.get("CACHE", "/work/train-cache")).resolve()
WAKEWORDD = Path(os.environ.get("WAKEWORDD", REPO / "bin" / "wakewordd"))

# Split buckets: sha1(relative path) mod 100.
VALIDATION_BELOW = 20  # [0, 20): validation, never trained on or used for selection
SELECTION_BELOW = 30   # [20, 30): held out of training for checkpoint selection
NOISE_TRAIN_FRACTION = 0.7  # the first 70 % of each noise recording is used for training


def bucket(key):
    """Stable bucket 0..99 of a string key (a path relative to its data folder)."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 100


def split_of(key):
    """'validation', 'selection' or 'train' for a key, by its hash bucket."""
    b = bucket(key)
    if b < VALIDATION_BELOW:
        return "validation"
    if b < SELECTION_BELOW:
        return "selection"
    return "train"


def stable_seed(*parts):
    """A 32-bit seed derived from strings and numbers, stable across runs and machines."""
    h = hashlib.sha1("\x00".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return int(h[:8], 16)


def setup_logging(log_file=None):
    """Log to stderr and, when given, append to `log_file`."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")


def read_audio(path):
    """Mono float32 audio at 16 kHz from any file soundfile reads."""
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != SAMPLE_RATE:
        g = np.gcd(sr, SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, sr // g).astype(np.float32)
    return x


def write_wav(path, x):
    """Write float32 WAV (the frontend reads float WAV exactly)."""
    sf.write(str(path), np.asarray(x, dtype=np.float32), SAMPLE_RATE, subtype="FLOAT")


def frame_energy_db(x):
    """Energy in dB of each frontend frame (30 ms window, 10 ms hop) of 16 kHz audio."""
    n = 0 if len(x) < WINDOW else 1 + (len(x) - WINDOW) // HOP
    if n == 0:
        return np.zeros(0, np.float32)
    idx = np.arange(WINDOW)[None, :] + HOP * np.arange(n)[:, None]
    e = np.mean(np.square(x[idx].astype(np.float64)), axis=1)
    return (10.0 * np.log10(e + 1e-10)).astype(np.float32)


def speech_region(x, clean=False, max_gap=30, min_run=3):
    """Frames [start, end) that hold the utterance in a clip, by an energy detector.

    Frames louder than a threshold between the clip's noise floor and its peak (and
    never more than 40 dB below the peak) are active; gaps shorter than `max_gap`
    frames (300 ms, the pause inside "smart mirror") are closed and runs shorter than
    `min_run` dropped; the segment holding the most energy wins. `clean` marks
    synthetic speech with no noise floor of its own, whose quiet sounds (a final "s")
    are then kept down to 40 dB below the peak. Returns (0, 0) for a clip with no frames.
    """
    db = frame_energy_db(x)
    if len(db) == 0:
        return 0, 0
    live = db[db > -95.0]  # digital silence (padding) says nothing about a room's noise floor
    if len(live) == 0:
        return 0, len(db)
    floor = -95.0 if clean else np.percentile(live, 10)
    peak = np.percentile(live, 99.5)
    thr = max(floor + 0.3 * (peak - floor), peak - 40.0)
    active = db > thr
    segs = _runs(active)
    segs = [(s, e) for s, e in segs if e - s >= min_run] or segs
    if not segs:
        return 0, len(db)
    merged = [list(segs[0])]
    for s, e in segs[1:]:
        if s - merged[-1][1] < max_gap:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    lin = np.power(10.0, db / 10.0)
    best = max(merged, key=lambda se: lin[se[0]:se[1]].sum())
    return int(best[0]), int(best[1])


def _runs(mask):
    """(start, end) of each run of True values."""
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def git_commit():
    """The checkout's commit, or None outside a git work tree."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def save_json(path, obj):
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")
    tmp.rename(path)


class Timer:
    """Wall-clock seconds since creation."""

    def __init__(self):
        self.t0 = time.time()

    def __call__(self):
        return time.time() - self.t0
