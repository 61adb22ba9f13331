"""Real speech and real noise (`DATA/real/`, see its SOURCES.md): split by speaker and decoded
once into the cache as 16 kHz WAV, which the daemon's tools and the training read.

    /usr/bin/python3 train/realdata.py            # decode into CACHE/real (idempotent)
    /usr/bin/python3 train/realdata.py --list     # print the split of every speaker group

Splits are by speaker, never by utterance. The speaker group of a speech file is its speaker
folder where the source has one (speechocean762 `SPEAKERxxxx`, LibriSpeech speaker ids,
AudioMNIST_AZ and FSDD speaker folders); the Precise community folders name no speakers, so
each folder is one group (all its speakers land in one split). Noise: an UrbanSound8K clip's
group is its source recording (the `fsID` of `class_fsID-classID-occurrence-slice`), so slices
of one recording never straddle splits; each of the few long household recordings is cut in
time instead (the first 60 % train, the next 15 % selection, the last 25 % validation).

A group belongs to validation when sha1("<source>/<group>") mod 100 < 25 (never trained on,
never used to choose anything), to selection when below 40 (checkpoint and threshold choice),
to training otherwise. Layout of the cache:

    CACHE/real/<split>/speech/<source path>/<utterance>.wav
    CACHE/real/<split>/noise/<source path>/<clip>.wav
    CACHE/real/manifest.json     every file: split, kind, group, seconds, transcript if any

Unless DEBIAN_SPEECH=0, decode() also appends training-only speech from Debian packages
(train/debianspeech.py: fetched and decoded when missing, skipped with one line without network).
"""

import argparse
import csv
import json
import logging
import os
import re
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import soundfile as sf

from common import CACHE, DATA, SAMPLE_RATE, bucket, save_json, setup_logging

log = logging.getLogger("realdata")

REAL = DATA / "real"
OUT = CACHE / "real"
VALIDATION_BELOW = 25
SELECTION_BELOW = 40
# Long household noise recordings are cut in time: [0, 0.6) train, [0.6, 0.75) selection, rest validation.
TIME_CUTS = (("train", 0.0, 0.6), ("selection", 0.6, 0.75), ("validation", 0.75, 1.0))
SPEAKER_SOURCES = ("speechocean762", "librispeech_train-clean-100", "audiomnist_az", "fsdd")
# Transcript words that sound like part of a keyword: oversampled as `unknown`.
CONFUSABLE = re.compile(r"\b(SNOW\w*|CLASS\w*|ALEX\w*|LEXUS|COMMUT\w*|COMPUT\w*|JAR\w*|JARV\w*|"
                        r"MIRR\w*|MIRACLE\w*|SMART\w*|NEAR\w*|VIEW\w*|GLASS\w*|BOY\w*|ELECT\w*)\b")


def split_of_group(key):
    b = bucket(key)
    return "validation" if b < VALIDATION_BELOW else "selection" if b < SELECTION_BELOW else "train"


def transcripts():
    """{utterance id: transcript} of speechocean762 and the Precise metadata files."""
    out = {}
    text = REAL / "speech" / "speechocean762" / "text"
    if text.exists():
        for line in text.read_text().splitlines():
            uid, _, t = line.partition(" ")
            out[uid] = t.strip().upper()
    for meta in REAL.glob("speech/precise/**/metadata.csv"):
        for row in csv.reader(meta.read_text(errors="replace").splitlines()):
            if len(row) >= 2 and row[0].endswith((".opus", ".wav")):  # name,text,lang
                out[Path(row[0]).stem] = row[1].strip().upper()
    return out


def listing():
    """Every real recording: {rel, kind, source, group, split, [start, end] share, transcript}."""
    items = []
    texts = transcripts()
    for f in sorted(REAL.glob("speech/**/*.opus")):
        rel = f.relative_to(REAL / "speech")
        source = rel.parts[0]
        if source in SPEAKER_SOURCES:
            group = f"{source}/{rel.parts[1]}"
        else:  # Precise: no speakers named; the folder is the group
            group = str(rel.parent)
        it = {"rel": str(rel), "kind": "speech", "source": source, "group": group,
              "split": split_of_group(group)}
        t = texts.get(f.stem)
        if t:
            it["transcript"] = t
            it["confusable"] = bool(CONFUSABLE.search(t))
        items.append(it)
    for f in sorted(REAL.glob("noise/**/*.opus")):
        rel = f.relative_to(REAL / "noise")
        source = rel.parts[0]
        if source == "urbansound8k":
            fsid = f.stem.rsplit("_", 1)[-1].split("-")[0]  # class_fsID-classID-occurrence-slice
            items.append({"rel": str(rel), "kind": "noise", "source": source, "group": f"{source}/{fsid}",
                          "split": split_of_group(f"{source}/{fsid}")})
        else:
            for split, lo, hi in TIME_CUTS:
                items.append({"rel": str(rel), "kind": "noise", "source": source, "group": str(rel),
                              "split": split, "share": [lo, hi]})
    return items


def out_path(it):
    rel = Path(it["rel"])
    name = rel.stem if "share" not in it else f"{rel.stem}.{it['split']}"
    return OUT / it["split"] / it["kind"] / rel.parent / (name + ".wav")


def _decode(it):
    dst = out_path(it)
    if dst.exists():
        return it["rel"], sf.info(str(dst)).frames / SAMPLE_RATE
    x, sr = sf.read(str(REAL / it["kind"] / it["rel"]), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != SAMPLE_RATE:
        raise SystemExit(f"realdata: {it['rel']}: {sr} Hz, want {SAMPLE_RATE} (SOURCES.md)")
    if "share" in it:
        lo, hi = it["share"]
        x = x[int(lo * len(x)):int(hi * len(x))]
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".part.wav")
    sf.write(str(tmp), np.clip(x, -1, 1), SAMPLE_RATE, subtype="PCM_16")
    os.replace(tmp, dst)
    return it["rel"], len(x) / SAMPLE_RATE


def decode(workers=2):
    """Decode every recording into its split's folder; returns the manifest."""
    items = listing()
    if not items:
        raise SystemExit(f"realdata: no recordings under {REAL} (see ../shared/data/real/SOURCES.md)")
    with Pool(workers) as pool:
        secs = pool.map(_decode, items, chunksize=32)
    totals = defaultdict(float)
    for it, (_, s) in zip(items, secs):
        it["seconds"] = round(s, 3)
        it["wav"] = str(out_path(it).relative_to(OUT))
        totals[(it["split"], it["kind"])] += s
    # --- Debian speech (train/debianspeech.py): training share only; DEBIAN_SPEECH=0 leaves it out.
    if os.environ.get("DEBIAN_SPEECH", "1") != "0":
        import debianspeech
        for it in debianspeech.items(out=OUT):
            items.append(it)
            totals[(it["split"], it["kind"])] += it["seconds"]
    # --- end of Debian speech
    save_json(OUT / "manifest.json", items)
    for (split, kind), s in sorted(totals.items()):
        log.info("%s %s: %.2f h", split, kind, s / 3600)
    return items


def load_manifest():
    path = OUT / "manifest.json"
    if not path.exists():
        return decode()
    return json.loads(path.read_text())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="print each speaker group's split and stop")
    ap.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", 2)))
    args = ap.parse_args()
    setup_logging(os.environ.get("LOG"))
    if args.list:
        groups = {}
        for it in listing():
            groups.setdefault(it["group"], it["split"])
        for g, s in sorted(groups.items()):
            print(f"{s}\t{g}")
        return
    decode(args.workers)


if __name__ == "__main__":
    main()
