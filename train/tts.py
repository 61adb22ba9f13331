"""Synthetic speech for training: keyword clips and keyword-free negatives.

Three offline synthesizers from Debian's packages are used:

* espeak-ng: English voices and accents x voice variants (+m1..+m7, +f1..+f5, ...),
  speed 120-200 words/min, pitch 30-70, word gap;
* flite: the kal, kal16, awb, rms and slt voices, with duration stretch and f0 target;
* festival (`text2wave`'s engine): kal_diphone, ked_diphone and cmu_us_slt_arctic_hts,
  with duration stretch.

Every clip is a WAV under CACHE/tts/<group>/<id>.wav; `generate()` returns a manifest of
dicts {id, path, label, text, engine, voice}. Clips already on disk are reused, and the
choice of texts and voices depends only on the seed and the requested counts.
"""

import logging
import random
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import CACHE, KEYWORDS, TTS_SPELLINGS

log = logging.getLogger("tts")

ESPEAK_VOICES = ["en", "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                 "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
ESPEAK_VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                   "klatt", "klatt2", "klatt3", "klatt4", "adam", "Andy", "annie", "aunty",
                   "belinda", "benjamin", "david", "edward", "john", "linda", "max", "michel",
                   "paul", "robert", "steph", "travis", "victor", "zac", "grandma", "grandpa"]
FLITE_VOICES = ["kal", "kal16", "awb", "rms", "slt"]
FESTIVAL_VOICES = ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]

# Words that sound like parts of the keywords; they are negatives.
CONFUSABLES = [
    "alex", "alexis", "alexander", "alexandra", "lexus", "lexa", "elixir", "election", "alaska",
    "excel", "axle", "relax", "complex",
    "commuter", "compute", "computing", "commuters", "comfort", "competent", "compete", "puter",
    "jar", "jars", "jarvik", "service", "nervous", "marvin", "harvest", "carvings", "travis",
    "mirror", "smart", "smarter", "smartest", "mirrors", "art", "mere", "marker", "nearer",
    "snow", "boy", "snowball", "snowbird", "cowboy", "soy", "snowy", "know", "toy", "buoy",
    "glass", "view", "window", "review", "viewer", "glasses", "class", "grass", "few", "blue",
    "screen", "hello", "hey", "okay", "stop", "play", "music", "lights", "weather", "timer",
]

_KEYWORD_WORDS = {"alexa", "computer", "jarvis", "snowboy"}
_KEYWORD_PAIRS = {("smart", "mirror"), ("view", "glass"), ("snow", "boy")}


def has_keyword(text):
    """True when a text says one of the keywords (whole words, plurals included)."""
    words = text.lower().split()
    for w in words:
        if w in _KEYWORD_WORDS or (w.endswith("s") and w[:-1] in _KEYWORD_WORDS):
            return True
    return any((a, b.rstrip("s")) in _KEYWORD_PAIRS or (a, b) in _KEYWORD_PAIRS
               for a, b in zip(words, words[1:]))


def dictionary_words(path="/usr/share/dict/words"):
    """Lower-case plain words of 2-12 letters from the system word list."""
    words = set()
    try:
        for line in Path(path).read_text(encoding="utf-8", errors="ignore").split():
            if re.fullmatch(r"[a-z]{2,12}", line):
                words.add(line)
    except OSError:
        log.warning("no word list at %s; negatives use the built-in confusables only", path)
    return sorted(words - _KEYWORD_WORDS)


def negative_texts(n, rng, words):
    """n keyword-free texts: 1-3 random words, short sentences and near-confusables."""
    pool = words or CONFUSABLES
    out = []
    while len(out) < n:
        r = rng.random()
        if r < 0.55:
            text = " ".join(rng.choice(pool) for _ in range(rng.randint(1, 3)))
        elif r < 0.70:
            text = " ".join(rng.choice(pool) for _ in range(rng.randint(4, 7)))
        elif r < 0.85:
            text = rng.choice(CONFUSABLES)
        else:
            parts = [rng.choice(pool) for _ in range(rng.randint(0, 2))]
            parts.insert(rng.randint(0, len(parts)), rng.choice(CONFUSABLES))
            text = " ".join(parts)
        if not has_keyword(text):
            out.append(text)
    return out


def _espeak(text, path, rng):
    voice = rng.choice(ESPEAK_VOICES)
    variant = rng.choice(ESPEAK_VARIANTS)
    v = voice + ("+" + variant if variant else "")
    speed, pitch, gap = rng.randint(120, 200), rng.randint(30, 70), rng.randint(0, 6)
    cmd = ["espeak-ng", "-v", v, "-s", str(speed), "-p", str(pitch), "-g", str(gap),
           "-w", str(path), text]
    return cmd, f"{v} s{speed} p{pitch} g{gap}"


def _flite(text, path, rng):
    voice = rng.choice(FLITE_VOICES)
    stretch = round(rng.uniform(0.8, 1.4), 2)
    f0 = rng.randint(80, 200)
    cmd = ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}",
           "--setf", f"int_f0_target_mean={f0}", "-t", text, "-o", str(path)]
    return cmd, f"{voice} stretch{stretch} f0{f0}"


def _run(cmd, path):
    tmp = Path(str(path) + ".part.wav")
    cmd = [str(tmp) if c == str(path) else c for c in cmd]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        tmp.rename(path)
        return True
    except (OSError, subprocess.SubprocessError) as e:
        log.warning("synthesis failed: %s: %s", " ".join(cmd), e)
        tmp.unlink(missing_ok=True)
        return False


def _festival_batch(jobs):
    """Synthesize [(text, path, voice, stretch)] with one festival process per voice."""
    by_voice = {}
    for text, path, voice, stretch in jobs:
        if not Path(path).exists():
            by_voice.setdefault(voice, []).append((text, path, stretch))
    for voice, items in by_voice.items():
        lines = [f"(voice_{voice})"]
        for text, path, stretch in items:
            safe = re.sub(r"[^a-z ]", "", text.lower())
            lines.append(f"(Parameter.set 'Duration_Stretch {stretch})")
            lines.append(f'(utt.save.wave (SynthText "{safe}") "{path}.part.wav" \'riff)')
        script = Path(items[0][1]).parent / f"festival_{voice}.scm"
        script.write_text("\n".join(lines) + "\n")
        try:
            subprocess.run(["festival", "--batch", str(script)], check=True, capture_output=True,
                           timeout=1800)
        except (OSError, subprocess.SubprocessError) as e:
            log.warning("festival %s failed: %s", voice, e)
        for _, path, _ in items:
            part = Path(str(path) + ".part.wav")
            if part.exists() and part.stat().st_size > 1000:
                part.rename(path)
            else:
                part.unlink(missing_ok=True)


def generate(counts, seed=1, workers=2):
    """Synthesize all clips; `counts` maps ('kw'|'neg', engine) -> clips (per keyword for 'kw')."""
    rng = random.Random(seed)
    root = CACHE / "tts"
    words = dictionary_words()
    plan = []  # (id, label, text, engine)
    for kw in KEYWORDS:
        for engine in ("espeak", "flite", "festival"):
            for i in range(counts.get(("kw", engine), 0)):
                plan.append((f"{kw}/{engine}_{i:04d}", kw, rng.choice(TTS_SPELLINGS[kw]), engine))
    for engine in ("espeak", "flite", "festival"):
        n = counts.get(("neg", engine), 0)
        for i, text in enumerate(negative_texts(n, rng, words)):
            plan.append((f"neg/{engine}_{i:05d}", "unknown", text, engine))

    manifest, commands, fest = [], [], []
    for cid, label, text, engine in plan:
        path = root / f"{cid}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        crng = random.Random(f"{seed}/{cid}")
        if engine == "espeak":
            cmd, voice = _espeak(text, path, crng)
            commands.append((cmd, path))
        elif engine == "flite":
            cmd, voice = _flite(text, path, crng)
            commands.append((cmd, path))
        else:
            v = crng.choice(FESTIVAL_VOICES)
            stretch = round(crng.uniform(0.85, 1.3), 2)
            fest.append((text, path, v, stretch))
            voice = f"{v} stretch{stretch}"
        manifest.append({"id": "tts/" + cid, "path": str(path), "label": label, "text": text,
                         "engine": engine, "voice": voice})

    todo = [(c, p) for c, p in commands if not p.exists()]
    log.info("tts: %d clips planned, %d to synthesize with espeak-ng/flite, %d with festival",
             len(manifest), len(todo), sum(not Path(f[1]).exists() for f in fest))
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(lambda cp: _run(*cp), todo))
    _festival_batch(fest)
    return [m for m in manifest if Path(m["path"]).exists()]
