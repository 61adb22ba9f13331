"""Data preparation: list every clip, render its audio variants, compute their features
with the daemon's own frontend (`wakewordd features`) and pack them per split.

Splits (see common.split_of):
* keyword recordings: sha1("<word>/<file>") mod 100 < 20 -> validation, < 30 -> selection
  (checkpoint choice), else train;
* synthetic negatives: their id's bucket < 8 -> validation, < 13 -> selection;
* noise recordings: the first 70 % of each file -> train (silence clips and the noise
  mixed into training audio), the last 30 % -> validation only;
* synthetic keyword clips, Speech Commands clips, synthetic noise and transients -> train
  (a hashed share of the synthetic backgrounds -> selection);
* real speech and real noise (`DATA/real`, decoded by realdata.py): split by speaker (see
  realdata.py); speech -> `unknown` (every window of an utterance), noise -> `silence`, and
  the training share of both is mixed under the augmented keyword clips (noise, and babble
  of one to three real talkers) besides the older backgrounds.

Variant 0 of a clip is the clip as recorded or synthesized (with a dither floor);
variants 1.. are augmented (tempo, pitch, reverb, gain, noise at 0-20 dB SNR). Validation
keyword clips get variant 0 and variant 1 = the clip with unseen noise at 10 dB SNR.

Output: CACHE/features/<split>.npz holding `feats` (all frames, float32 [n, 40]),
`offsets`, `labels`, `regions` (speech frames [start, end) per clip variant), `variants`
and the clip `ids` and `sources`. Rendered chunks are cached under CACHE/features/chunks,
so an interrupted or repeated run reuses the work already done.
"""

import argparse
import glob
import hashlib
import json
import logging
import os
import shutil
import subprocess
from multiprocessing import Pool
from pathlib import Path

import numpy as np

import augment as aug
import realdata
import tts
from common import (CACHE, CLASS_INDEX, DATA, KEYWORDS, NOISE_TRAIN_FRACTION, SAMPLE_RATE,
                    WAKEWORDD, Timer, bucket, read_audio, save_json, setup_logging, speech_region,
                    split_of, stable_seed, write_wav)

log = logging.getLogger("prepare")
AUG_VERSION = "4"
HOP_SAMPLES = 160
CONTEXT_SHARE = 0.4  # augmented keyword variants said between other words
CHUNK = 150
MIN_SECONDS = 2.2

_noise_train = None  # training parts of the noise recordings, per worker
_noise_test = None


def _load_noises():
    global _noise_train, _noise_test
    if _noise_train is None:
        _noise_train, _noise_test = [], []
        for f in sorted(glob.glob(str(DATA / "noise" / "*.flac"))):
            x = read_audio(f)
            cut = int(len(x) * NOISE_TRAIN_FRACTION)
            _noise_train.append(x[:cut])
            _noise_test.append(x[cut:])
    return _noise_train, _noise_test


_real_train = None  # training-share real recordings: {"speech": [paths], "noise": [paths]}


def _real_pools():
    global _real_train
    if _real_train is None:
        _real_train = {"speech": [], "noise": []}
        for it in realdata.load_manifest():
            if it["split"] == "train":
                _real_train[it["kind"]].append(str(realdata.OUT / it["wav"]))
    return _real_train


def _real_excerpt(paths, n, rng):
    """n samples of real recordings from the pool, joined end to end where one is short."""
    parts, have = [], 0
    while have < n:
        x = read_audio(paths[int(rng.integers(len(paths)))])
        if len(x) == 0:
            continue
        at = int(rng.integers(0, max(1, len(x) - (n - have))))
        parts.append(x[at:at + n - have])
        have += len(parts[-1])
    return np.concatenate(parts)


def _babble(n, rng):
    """One to three real talkers at once (the training share), levels within 6 dB."""
    pool = _real_pools()["speech"]
    talkers = int(rng.integers(1, 4))
    x = np.zeros(n, np.float32)
    for _ in range(talkers):
        x += aug.set_rms_db(_real_excerpt(pool, n, rng), rng.uniform(-6, 0))
    return x


def _in_context(x, region, rng):
    """The keyword clip between other words: real speech of the training share before and
    after it (0.3-0.9 s each, 50-500 ms away, within 6 dB of the keyword's level), as a
    wake word is said in conversation. The returned region is the keyword's, shifted."""
    pool = _real_pools()["speech"]
    level = 10.0 * np.log10(aug.active_power(x))
    parts, shift = [], 0
    for side in ("before", "after"):
        n = int(rng.uniform(0.3, 0.9) * SAMPLE_RATE)
        gap = np.zeros(int(rng.uniform(0.05, 0.5) * SAMPLE_RATE), np.float32)
        ctx = _real_excerpt(pool, n, rng)
        ctx = ctx * np.sqrt(10.0 ** ((level + rng.uniform(-6, 6)) / 10.0) / aug.active_power(ctx))
        if side == "before":
            pad = (-(n + len(gap))) % HOP_SAMPLES  # keep the keyword on the same frame grid
            parts += [np.zeros(pad, np.float32), ctx.astype(np.float32), gap]
            shift = (pad + n + len(gap)) // HOP_SAMPLES
            parts.append(x)
        else:
            parts += [gap, ctx.astype(np.float32)]
    return np.concatenate(parts), (region[0] + shift, region[1] + shift)


def _excerpt(pool, n, rng):
    """n samples from a random recording of the pool (looped when shorter)."""
    src = pool[int(rng.integers(len(pool)))]
    if len(src) <= n:
        src = np.tile(src, n // max(1, len(src)) + 2)
    at = int(rng.integers(0, len(src) - n))
    return src[at:at + n].copy()


def _pad(x, rng, lead=(0.05, 0.8), total=MIN_SECONDS):
    """Pad with silence before and after, to at least `total` seconds."""
    a = int(rng.uniform(*lead) * SAMPLE_RATE)
    b = int(rng.uniform(*lead) * SAMPLE_RATE)
    short = int(total * SAMPLE_RATE) - (len(x) + a + b)
    if short > 0:
        extra = int(rng.integers(0, short + 1))
        a, b = a + extra, b + short - extra
    return np.concatenate([np.zeros(a, np.float32), x, np.zeros(b, np.float32)]), a


def _background(n, rng, noise_train):
    r = rng.random()
    real = _real_pools()
    if r < 0.3 and real["speech"]:
        return _babble(n, rng)
    if r < 0.55 and real["noise"]:
        return _real_excerpt(real["noise"], n, rng)
    if r < 0.75:
        return _excerpt(noise_train, n, rng)
    if r < 0.9:
        return aug.coloured_noise(n, rng)
    return aug.coloured_noise(n, rng) * 0.05 + aug.transients(n, rng)


def render(item, variant):
    """Audio of one clip variant and its speech region in frames [start, end)."""
    noise_train, noise_test = _load_noises()
    rng = np.random.default_rng(stable_seed(AUG_VERSION, item["id"], variant))
    src = item["source"]
    kind = item["kind"]

    if kind == "background":
        n = int(src.get("seconds", 3.0) * SAMPLE_RATE)
        if "noise" in src:
            x = _load_noise_range(src)
        elif src["synth"] == "noise":
            x = aug.coloured_noise(n, rng)
        else:
            x = aug.transients(n, rng)
            floor = _excerpt(noise_train, n, rng) if rng.random() < 0.5 else aug.coloured_noise(n, rng)
            x = aug.set_peak_db(x, rng.uniform(-30, -1)) + aug.set_rms_db(floor, rng.uniform(-75, -40))
        if "noise" in src and variant == 0:
            pass  # as recorded
        elif "noise" in src:
            x = aug.set_rms_db(x, rng.uniform(-65, -15))
        elif src["synth"] == "noise":
            x = aug.set_rms_db(x, rng.uniform(-85, -20))
        frames = 1 + (len(x) - 480) // 160
        return aug.dither(x, rng), (0, frames)

    x = read_audio(src["file"])
    if kind == "realspeech":  # every window of a real utterance is `unknown`
        if variant > 0:
            tempo = rng.uniform(0.9, 1.1) if rng.random() < 0.3 else 1.0
            reverb = (rng.uniform(10, 70), rng.uniform(20, 100)) if rng.random() < 0.3 else None
            x = aug.sox_effects(x, tempo, 0.0, reverb)
            x = aug.set_peak_db(x, rng.uniform(-30, -2))
            if rng.random() < 0.8:
                x = aug.mix_at_snr(x, _background(len(x), rng, noise_train), rng.uniform(0, 25))
            peak = float(np.max(np.abs(x)))
            if peak > 0.99:
                x = x * (0.99 / peak)
        frames = max(0, 1 + (len(x) - 480) // 160)
        return aug.dither(x, rng), (0, frames)
    real = item["source_tag"] == "real"
    if kind == "eval":  # validation keyword clip: as recorded, or with unseen noise at 10 dB
        if variant == 1:
            x = aug.mix_at_snr(x, _excerpt(noise_test, len(x), rng), 10.0)
        return aug.dither(x, rng), speech_region(x)

    if variant > 0:
        tempo = rng.uniform(0.85, 1.2) if rng.random() < 0.6 else 1.0
        pitch = rng.uniform(-250, 250) if rng.random() < 0.5 else 0.0
        reverb = (rng.uniform(10, 70), rng.uniform(20, 100)) if rng.random() < 0.3 else None
        x = aug.sox_effects(x, tempo, pitch, reverb)
    if variant > 0 or not real:  # a real recording as-is keeps its own room noise unpadded
        x, _ = _pad(x, rng, (0.0, 0.3) if real else (0.05, 0.8))
    region = speech_region(x, clean=not real)
    if variant > 0 and rng.random() < CONTEXT_SHARE and _real_pools()["speech"]:
        x, region = _in_context(x, region, rng)
    if variant == 0:
        if not real:
            x = aug.set_peak_db(x, rng.uniform(-20, -3))
            x = aug.mix_at_snr(x, aug.coloured_noise(len(x), rng), rng.uniform(30, 50))
    else:
        x = aug.set_peak_db(x, rng.uniform(-30, -2))
        if rng.random() < 0.9:
            snr = rng.uniform(0, 20) if rng.random() < 0.85 else rng.uniform(20, 40)
            x = aug.mix_at_snr(x, _background(len(x), rng, noise_train), snr)
        elif not real:
            x = aug.mix_at_snr(x, aug.coloured_noise(len(x), rng), rng.uniform(30, 50))
    peak = float(np.max(np.abs(x)))
    if peak > 0.99:
        x = x * (0.99 / peak)
    return aug.dither(x, rng), region


def _load_noise_range(src):
    x = read_audio(src["noise"])
    return x[src["start"]:src["end"]].copy()


def _features(paths, outdir):
    """Run the daemon's frontend on many files; returns the frames of each."""
    subprocess.run([str(WAKEWORDD), "features", "--outdir", str(outdir), *map(str, paths)],
                   check=True, capture_output=True, timeout=1800)
    return [np.load(Path(outdir) / (Path(p).stem + ".npy")) for p in paths]


def _process_chunk(args):
    key, pairs, path = args
    tmp = CACHE / "tmp" / key
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    wavs, regions = [], []
    for i, (item, v) in enumerate(pairs):
        x, region = render(item, v)
        w = tmp / f"{i:04d}.wav"
        write_wav(w, x)
        wavs.append(w)
        regions.append(region)
    feats = _features(wavs, tmp)
    shutil.rmtree(tmp)
    lens = np.array([len(f) for f in feats], np.int64)
    np.savez(str(path) + ".part.npz", feats=np.concatenate(feats).astype(np.float32), lens=lens,
             regions=np.array(regions, np.int64).reshape(-1, 2))
    os.replace(str(path) + ".part.npz", path)
    return key


def build_items(tts_manifest):
    """Every clip with its split, label, kind, source tag and number of variants."""
    items = []
    kw_root = DATA / "keywords"
    for kw in KEYWORDS:
        for f in sorted(glob.glob(str(kw_root / kw / "*.flac"))):
            rel = f"{kw}/{Path(f).name}"
            items.append({"id": "keywords/" + rel, "rel": rel, "split": split_of(rel), "label": kw,
                          "source_tag": "real", "source": {"file": f}})
    for m in tts_manifest:
        split = "train"
        if m["label"] == "unknown":
            b = bucket(m["id"])
            split = "validation" if b < 8 else "selection" if b < 13 else "train"
        items.append({"id": m["id"], "rel": m["id"], "split": split, "label": m["label"],
                      "source_tag": "tts-" + m["engine"], "source": {"file": m["path"]}})
    for f in sorted(glob.glob(str(DATA / "speech" / "**" / "*.wav"), recursive=True)):
        rel = os.path.relpath(f, DATA / "speech")
        label = "silence" if "_silence_" in Path(f).name else "unknown"
        items.append({"id": "speech/" + rel, "rel": rel, "split": "train", "label": label,
                      "source_tag": "speech-commands", "source": {"file": f}})
    return items


def real_items(chunk_s=3.0):
    """Real speech (`unknown`, every window) and real noise (`silence`, 3 s pieces), each in
    its speaker-split share (realdata.py). Utterances whose transcript holds a word that
    sounds like part of a keyword are tagged `real-confusable` (sampled more often)."""
    items = []
    for it in realdata.load_manifest():
        path = str(realdata.OUT / it["wav"])
        if it["kind"] == "speech":
            tag = "real-confusable" if it.get("confusable") else "real-speech"
            items.append({"id": "real/speech/" + it["rel"], "rel": it["rel"], "split": it["split"],
                          "label": "unknown", "source_tag": tag, "kind": "realspeech",
                          "source": {"file": path}})
            continue
        n = int(it["seconds"] * SAMPLE_RATE)
        c = int(chunk_s * SAMPLE_RATE)
        starts = list(range(0, max(n - c, 0) + 1, c)) if n >= c else [0]
        for k, st in enumerate(starts):
            items.append({"id": f"real/noise/{it['rel']}/{it['split']}{k:03d}", "split": it["split"],
                          "label": "silence", "source_tag": "real-noise", "kind": "background",
                          "source": {"noise": path, "start": st, "end": min(st + c, n)}})
    return items


def background_items(n_synth_noise, n_transients, chunk_s=3.0, hop_s=1.5):
    """Silence-class clips: noise recordings (train part / validation part) and synthetics."""
    items = []
    for f in sorted(glob.glob(str(DATA / "noise" / "*.flac"))):
        n = len(read_audio(f))
        cut = int(n * NOISE_TRAIN_FRACTION)
        name = Path(f).stem
        for split, lo, hi in (("train", 0, cut), ("validation", cut, n)):
            c, h = int(chunk_s * SAMPLE_RATE), int(hop_s * SAMPLE_RATE)
            for k, s in enumerate(range(lo, hi - c + 1, h)):
                items.append({"id": f"noise/{name}/{split}{k:03d}", "split": split, "label": "silence",
                              "source_tag": "noise", "source": {"noise": f, "start": s, "end": s + c}})
    for i in range(n_synth_noise):
        cid = f"synth/noise_{i:04d}"
        items.append({"id": cid, "split": "selection" if bucket(cid) < 10 else "train",
                      "label": "silence", "source_tag": "synth-noise",
                      "source": {"synth": "noise", "seconds": 3.0}})
    for i in range(n_transients):
        cid = f"synth/transient_{i:04d}"
        items.append({"id": cid, "split": "selection" if bucket(cid) < 10 else "train",
                      "label": "silence", "source_tag": "transient",
                      "source": {"synth": "transient", "seconds": 3.0}})
    for it in items:
        it["kind"] = "background"
    return items


def assign_variants(items, n_real, n_tts_kw, n_neg, n_speech, n_noise):
    for it in items:
        if it["split"] == "validation" and it["label"] in KEYWORDS:
            it["kind"], it["variants"] = "eval", [0, 1]
            continue
        it.setdefault("kind", "speech")
        if it["split"] != "train":
            it["variants"] = [0] if it["source_tag"].startswith("real-") else [0, 1]
        elif it["source_tag"] == "real-noise":
            it["variants"] = [0, 1]
        elif it["kind"] == "realspeech":
            it["variants"] = [0, 1, 2] if it["source_tag"] == "real-confusable" else [0, 1]
        elif it["kind"] == "background":
            it["variants"] = list(range(n_noise))
        elif it["source_tag"] == "real":
            it["variants"] = list(range(n_real))
        elif it["source_tag"] == "speech-commands":
            it["variants"] = list(range(n_speech))
        elif it["label"] == "unknown":
            it["variants"] = list(range(n_neg))
        else:
            it["variants"] = list(range(n_tts_kw))


def run(args):
    t = Timer()
    if not WAKEWORDD.exists():
        raise SystemExit(f"prepare: {WAKEWORDD} not found; build it with "
                         "`go build -o bin/wakewordd ./cmd/wakewordd`")
    s = args.scale
    counts = {("kw", "espeak"): int(160 * s), ("kw", "flite"): int(25 * s),
              ("kw", "festival"): int(15 * s), ("neg", "espeak"): int(2400 * s),
              ("neg", "flite"): int(400 * s), ("neg", "festival"): int(150 * s)}
    manifest = tts.generate(counts, seed=args.seed, workers=args.workers)
    log.info("tts ready: %d clips (%.0f s)", len(manifest), t())

    items = build_items(manifest) + background_items(int(200 * s), int(400 * s)) + real_items()
    assign_variants(items, n_real=args.real_variants, n_tts_kw=args.tts_variants,
                    n_neg=args.neg_variants, n_speech=args.real_variants, n_noise=3)

    out = CACHE / "features"
    chunks_dir = out / "chunks"
    chunks_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for split in ("train", "selection", "validation"):
        pairs = [(it, v) for it in items if it["split"] == split for v in it["variants"]]
        jobs = []
        for i in range(0, len(pairs), CHUNK):
            part = pairs[i:i + CHUNK]
            sig = json.dumps([AUG_VERSION, [(it["id"], it["source"], it["kind"], v) for it, v in part]],
                             sort_keys=True)
            key = hashlib.sha1(sig.encode()).hexdigest()[:16]
            jobs.append((key, part, chunks_dir / f"{key}.npz"))
        todo = [j for j in jobs if not j[2].exists()]
        log.info("%s: %d clip variants in %d chunks, %d to render", split, len(pairs), len(jobs), len(todo))
        with Pool(args.workers) as pool:
            for k, key in enumerate(pool.imap_unordered(_process_chunk, todo), 1):
                if k % 10 == 0 or k == len(todo):
                    log.info("%s: %d/%d chunks (%.0f s)", split, k, len(todo), t())
        result[split] = _pack(split, jobs, out)
    save_json(out / "items.json", [{k: v for k, v in it.items() if k != "source"} for it in items])
    log.info("prepare done in %.0f s", t())
    return result


def _pack(split, jobs, out):
    feats, lens, regions, meta = [], [], [], []
    for key, part, path in jobs:
        z = np.load(path)
        feats.append(z["feats"])
        lens.append(z["lens"])
        regions.append(z["regions"])
        meta += [(it["id"], v, it["label"], it["source_tag"]) for it, v in part]
    lens = np.concatenate(lens) if lens else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    np.savez(out / f"{split}.npz",
             feats=np.concatenate(feats) if feats else np.zeros((0, 40), np.float32),
             offsets=offsets,
             regions=np.concatenate(regions) if regions else np.zeros((0, 2), np.int64),
             labels=np.array([CLASS_INDEX[m[2]] for m in meta], np.int64),
             variants=np.array([m[1] for m in meta], np.int64),
             ids=np.array([m[0] for m in meta]), sources=np.array([m[3] for m in meta]))
    log.info("%s: packed %d clip variants, %d frames", split, len(meta), offsets[-1])
    return out / f"{split}.npz"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=float(os.environ.get("DATA_SCALE", 1.0)),
                    help="multiplies the number of synthetic clips (default 1.0)")
    ap.add_argument("--real-variants", type=int, default=6, help="variants per real clip (1 clean + augmented)")
    ap.add_argument("--tts-variants", type=int, default=3, help="variants per synthetic keyword clip")
    ap.add_argument("--neg-variants", type=int, default=2, help="variants per synthetic negative clip")
    ap.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", 2)))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SEED", 1)))
    ap.add_argument("--log", default=os.environ.get("LOG"))
    args = ap.parse_args()
    setup_logging(args.log)
    run(args)


if __name__ == "__main__":
    main()
