"""More real speech that is no keyword, from Debian packages: training share only.

    CACHE=/work/train-cache /usr/bin/python3 train/debianspeech.py   # fetch, decode, print hours

Packages (fetched with `apt-get download`, never installed, and unpacked with `dpkg-deb -x`
into CACHE/debian/<package>/, once):

  fillets-ng-data, -cs, -nl   acted game dialogue (English, Czech, Dutch), Ogg Vorbis under
                              share/games/fillets-ng/sound/<level>/<lang>/<id>.ogg; the lines
                              are in script/<level>/*dialogs_<lang>.lua (dialogId(id, font,
                              English) followed by dialogStr(translation)). A file without a
                              line there (keyboard clicks, `-x-` effects) is not used.
  asterisk-core-sounds-XX-wav telephone prompts (8 kHz WAV, one voice per language: en es fr it
                              ru) under share/asterisk/sounds/<voice>/; the lines are in the
                              companion package asterisk-core-sounds-XX
                              (doc/.../core-sounds-XX.txt.gz, `name: text`). Entries that are
                              only a bracketed description (`[beep tone]`) are no speech.
  klettres-data               letters and syllables of many languages (Ogg Vorbis, mostly
                              padded to 2 s), named in <lang>/sounds.xml.

Every utterance whose line (its file name where it has none) holds a keyword or part of one
(KEYWORD_PARTS), in any case, inside a word too and with spaces and punctuation ignored ("snow
boy", "review"), is dropped and listed in CACHE/debian/dropped.tsv. Kept files are decoded to 16 kHz mono 16-bit
WAV, trimmed of silence at both ends (0.1 s kept); those under 0.3 s or near-silent are skipped:

    CACHE/real/train/speech/debian/<package>/<path under the package's sound folder>.wav

These voices are not speaker-labelled, so they are training data only: `items()` gives them
split `train` and the group `debian/<package>` and they never reach selection or validation.
realdata.decode() appends them to CACHE/real/manifest.json unless DEBIAN_SPEECH=0.
"""

import argparse
import gzip
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, SAMPLE_RATE, setup_logging  # noqa: E402

log = logging.getLogger("debianspeech")

DEB = CACHE / "debian"          # unpacked packages, per-package indexes, dropped.tsv
OUT = CACHE / "real"            # the root of realdata's manifest
INDEX_VERSION = 2

# A keyword or part of one, in any language's file; also the Czech "computer".
KEYWORD_PARTS = ("ALEXA", "COMPUTER", "JARVIS", "MIRROR", "SNOWBOY", "VIEW", "GLASS", "POČÍTAČ")
_SQUASHED = [p.casefold() for p in KEYWORD_PARTS]

MIN_SECONDS = 0.3
SILENT_DB = -50.0               # loudest 20 ms frame below this: near-silent, skipped
TRIM_BELOW_PEAK_DB = 40.0       # edge frames this far below the loudest one are trimmed
TRIM_MARGIN_S = 0.1

FILLETS = "usr/share/games/fillets-ng"
ASTERISK_LANGS = ("en", "es", "fr", "it", "ru")
# package: (family, language); languages of klettres are many, named by its folders.
SOURCES = {"fillets-ng-data": ("fillets", "en"), "fillets-ng-data-cs": ("fillets", "cs"),
           "fillets-ng-data-nl": ("fillets", "nl")}
SOURCES.update({f"asterisk-core-sounds-{lang}-wav": ("asterisk", lang) for lang in ASTERISK_LANGS})
SOURCES["klettres-data"] = ("klettres", None)


class Unavailable(Exception):
    """A package could not be downloaded. `only_this`: the package is unknown (others may
    still come); otherwise apt itself cannot download (no network, no apt-get)."""

    def __init__(self, message, only_this=False):
        super().__init__(message)
        self.only_this = only_this


# ---------------------------------------------------------------- the keyword filter

def keyword_in(text):
    """The keyword part `text` holds (upper case), or None. Case is ignored, and so is every
    character that is not a letter, so parts inside words ("REVIEW") and across spaces or
    hyphens ("snow boy", "View-Glass", "Alex a") are found."""
    if not text:
        return None
    squashed = "".join(c for c in text.casefold() if c.isalpha())
    for part, low in zip(KEYWORD_PARTS, _SQUASHED):
        if low in squashed:
            return part
    return None


# ---------------------------------------------------------------- transcripts

_LUA_TOKEN = re.compile(r"""\s+|--\[(=*)\[.*?\]\1\]|--[^\n]*|\[(=*)\[(.*?)\]\2\]|"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|\.\.|[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?|.""", re.S)
_LUA_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
                "\\": "\\", '"': '"', "'": "'", "\n": "\n"}


def _lua_unescape(s):
    def one(m):
        e = m.group(1)
        if e[0].isdigit():
            return chr(int(e))
        return _LUA_ESCAPES.get(e, e)
    # Lua's \ddd is a byte; the dialogue files are UTF-8 and use none, so a code point will do.
    return re.sub(r"\\(\d{1,3}|.)", one, s, flags=re.S)


def _lua_tokens(text):
    """(kind, value): kind 'str' (value unescaped), 'name', 'op' (punctuation, `..`)."""
    for m in _LUA_TOKEN.finditer(text):
        tok = m.group(0)
        if tok[0].isspace() or tok.startswith("--"):
            continue
        if m.group(3) is not None:
            yield "str", m.group(3)
        elif m.group(4) is not None:
            yield "str", _lua_unescape(m.group(4))
        elif m.group(5) is not None:
            yield "str", _lua_unescape(m.group(5))
        elif tok[0].isalpha() or tok[0] == "_":
            yield "name", tok
        else:
            yield "op", tok


def lua_calls(text, names=("dialogId", "dialogStr")):
    """Calls of the named functions in Lua source: [(name, [argument])], an argument being the
    string it evaluates to (literals joined with `..`) or None when it is anything else."""
    toks = list(_lua_tokens(text))
    calls, i = [], 0
    while i < len(toks):
        kind, val = toks[i]
        if kind == "name" and val in names and i + 1 < len(toks) and toks[i + 1] == ("op", "("):
            args, cur, depth, j = [], [], 0, i + 2
            while j < len(toks):
                k, v = toks[j]
                if k == "op" and v == "(":
                    depth += 1
                elif k == "op" and v == ")" and depth:
                    depth -= 1
                elif k == "op" and v in ",)" and depth == 0:
                    args.append(_join(cur))
                    cur = []
                    if v == ")":
                        break
                    j += 1
                    continue
                cur.append((k, v))
                j += 1
            if args == [None]:
                args = []  # f()
            calls.append((val, args))
            i = j + 1
            continue
        i += 1
    return calls


def _join(parts):
    """The string of `"a" .. "b"`, or None for any other expression."""
    if not parts or len(parts) % 2 == 0:
        return None
    out = []
    for n, (k, v) in enumerate(parts):
        if n % 2 == 0 and k != "str":
            return None
        if n % 2 == 1 and (k, v) != ("op", ".."):
            return None
        if n % 2 == 0:
            out.append(v)
    return "".join(out)


def lua_dialogs(text):
    """{id: (English line, translation or None)} of a fillets dialogs_XX.lua: dialogId(id, font,
    English), then dialogStr(translation) in the translated files."""
    out, current = {}, None
    for name, args in lua_calls(text):
        if name == "dialogId" and args and args[0] is not None:
            current = args[0]
            out[current] = (args[2] if len(args) > 2 else None, None)
        elif name == "dialogStr" and current is not None and args:
            out[current] = (out[current][0], args[0])
    return out


def fillets_lines(script_dir, lang):
    """{(level, id): line spoken in `lang`} from script/<level>/*dialogs_<lang>.lua; empty
    lines are left out (their sounds are effects or unnamed)."""
    lines = {}
    for f in sorted(Path(script_dir).glob(f"*/*dialogs_{lang}.lua")):
        for uid, (english, translated) in lua_dialogs(f.read_text(encoding="utf-8", errors="replace")).items():
            text = english if lang == "en" else translated
            if text and text.strip():
                lines.setdefault((f.parent.name, uid), text.strip())
    return lines


def asterisk_lines(text):
    """{name: line} of core-sounds-XX.txt: `name: line`, `;` comments."""
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        name, sep, said = line.partition(":")
        if sep and name.strip() and " " not in name.strip():
            out[name.strip()] = said.strip()
    return out


def is_description(line):
    """True for a line that only describes a sound (`[ascending tones]`): nothing is said."""
    return line is not None and not re.sub(r"\[[^\]]*\]", "", line).strip(" \t.,;:!?-")


def klettres_names(xml_text):
    """{file relative to share/klettres: name} of a klettres sounds.xml."""
    out = {}
    try:
        for s in ET.fromstring(xml_text).iter("sound"):
            if s.get("file") and s.get("name") is not None:
                out[s.get("file")] = s.get("name")
    except ET.ParseError:
        for name, file in re.findall(r'<sound\s+name="([^"]*)"\s+file="([^"]*)"', xml_text):
            out[file] = name
    return out


# ---------------------------------------------------------------- fetching

_MISSING_LISTS = re.compile(r"Unable to locate package|has no installation candidate|"
                            r"Can't select candidate|No packages found", re.I)
_updated = False


def _apt(args, cwd):
    cmd = ["apt-get", "-q"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd += ["-o", "APT::Sandbox::User=root"]  # root: apt would fall back to this, with a warning
    return subprocess.run(cmd + args, cwd=cwd, capture_output=True, text=True)


def _error_line(r):
    lines = [ln for ln in (r.stderr + r.stdout).splitlines() if ln.startswith("E:")]
    return (lines or (r.stderr + r.stdout).strip().splitlines() or [f"exit {r.returncode}"])[0]


def fetch(package):
    """Unpack `package` into DEB/<package>/ unless it is there already; returns the folder."""
    global _updated
    dst = DEB / package
    if (dst / ".extracted").exists():
        return dst
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        raise Unavailable("apt-get or dpkg-deb not found")
    DEB.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="debianspeech-") as tmp:
        r = _apt(["download", package], tmp)
        if r.returncode != 0 and _MISSING_LISTS.search(r.stderr + r.stdout) and not _updated:
            log.info("apt-get download %s: %s; running apt-get update", package, _error_line(r))
            _updated = True
            u = _apt(["update"], tmp)
            if u.returncode != 0:
                raise Unavailable(f"apt-get update: {_error_line(u)}")
            r = _apt(["download", package], tmp)
        debs = list(Path(tmp).glob("*.deb"))
        if r.returncode != 0 or len(debs) != 1:
            raise Unavailable(f"apt-get download {package}: {_error_line(r)}",
                              only_this=bool(_MISSING_LISTS.search(r.stderr + r.stdout)))
        part = DEB / f".{package}.part"
        shutil.rmtree(part, ignore_errors=True)
        shutil.rmtree(dst, ignore_errors=True)
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(part)], check=True)
        (part / ".extracted").write_text(debs[0].name + "\n")
        os.replace(part, dst)
    log.info("unpacked %s into %s", package, dst)
    return dst


# ---------------------------------------------------------------- listing and decoding

def asterisk_package_lines(lang):
    """{name: line} of the asterisk-core-sounds-<lang> package's core-sounds-<lang>.txt."""
    lines = {}
    for t in fetch(f"asterisk-core-sounds-{lang}").glob(f"usr/share/doc/*/core-sounds-{lang}.txt*"):
        raw = gzip.decompress(t.read_bytes()) if t.suffix == ".gz" else t.read_bytes()
        lines.update(asterisk_lines(raw.decode("utf-8", errors="replace")))
    return lines


def listing(package):
    """[(source file, path under the sound folder, line or None, needs_line)] of a package,
    fetching it (and the package holding its lines) when needed. needs_line: a file without a
    line is not used (fillets: those are sound effects)."""
    family, lang = SOURCES[package]
    root = fetch(package)
    out = []
    if family == "fillets":
        scripts = fetch("fillets-ng-data") / FILLETS / "script"
        lines = fillets_lines(scripts, lang)
        sound = root / FILLETS / "sound"
        for f in sorted(sound.glob(f"*/{lang}/*.ogg")):
            level = f.relative_to(sound).parts[0]
            out.append((f, f.relative_to(sound), lines.get((level, f.stem)), True))
    elif family == "asterisk":
        lines = asterisk_package_lines(lang)
        # a sound the English list only describes ("[beep tone]") is no speech in any language
        lines.update({k: v for k, v in asterisk_package_lines("en").items()
                      if is_description(v) and k not in lines})
        sound = root / "usr/share/asterisk/sounds"
        for f in sorted(sound.glob("*/**/*.wav")):
            rel = f.relative_to(sound)
            name = str(Path(*rel.parts[1:]).with_suffix(""))  # <voice>/digits/1.wav -> digits/1
            if rel.parts[1] == "silence":
                continue
            out.append((f, rel, lines.get(name), False))
    else:  # klettres
        sound = root / "usr/share/klettres"
        names = {}
        for x in sorted(sound.glob("*/sounds.xml")):
            names.update(klettres_names(x.read_text(encoding="utf-8", errors="replace")))
        for f in sorted(sound.glob("*/*/*.ogg")):
            rel = f.relative_to(sound)
            out.append((f, rel, names.get(str(rel)), False))
    return out


def load(path):
    """A file as float32 mono at SAMPLE_RATE."""
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != SAMPLE_RATE:
        g = gcd(SAMPLE_RATE, sr)
        x = resample_poly(x, SAMPLE_RATE // g, sr // g).astype(np.float32)
    return x


def trim(x, sr=SAMPLE_RATE):
    """x without its quiet ends (TRIM_MARGIN_S kept), or None when it is near-silent."""
    hop = sr // 50
    n = len(x) // hop
    if n == 0:
        return None
    frames = x[:n * hop].reshape(n, hop).astype(np.float64)
    db = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)
    peak = float(db.max())
    if peak < SILENT_DB:
        return None
    loud = np.flatnonzero(db > peak - TRIM_BELOW_PEAK_DB)
    margin = int(TRIM_MARGIN_S * sr)
    return x[max(0, loud[0] * hop - margin):min(len(x), (loud[-1] + 1) * hop + margin)]


def out_rel(package, rel):
    """The WAV's path relative to OUT."""
    return Path("train") / "speech" / "debian" / package / Path(rel).with_suffix(".wav")


def build(package):
    """Fetch, filter and decode one package; writes and returns its index
    {version, package, items, dropped, skipped}."""
    items, dropped, skipped = [], [], {"no line": 0, "no speech": 0, "short or silent": 0}
    for src, rel, line, needs_line in listing(package):
        rel_str = str(rel)
        wav = out_rel(package, rel)
        dst = OUT / wav
        part = keyword_in(line) if line is not None else keyword_in(Path(rel_str).stem)
        if part:
            dropped.append({"package": package, "file": rel_str, "part": part, "transcript": line})
            if dst.exists():
                dst.unlink()  # decoded before the filter caught it
            continue
        if (line is None and needs_line) or (line is not None and not line.strip()):
            skipped["no line"] += 1
            continue
        if is_description(line):
            skipped["no speech"] += 1
            continue
        if dst.exists():
            seconds = sf.info(str(dst)).frames / SAMPLE_RATE
        else:
            x = trim(load(src))
            if x is None or len(x) < MIN_SECONDS * SAMPLE_RATE:
                skipped["short or silent"] += 1
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_suffix(".part.wav")
            sf.write(str(tmp), np.clip(x, -1, 1), SAMPLE_RATE, subtype="PCM_16")
            os.replace(tmp, dst)
            seconds = len(x) / SAMPLE_RATE
        it = {"rel": f"debian/{package}/{rel_str}", "kind": "speech", "source": f"debian/{package}",
              "group": f"debian/{package}", "split": "train", "seconds": round(seconds, 3),
              "wav": str(wav), "confusable": False}
        if line is not None:
            it["transcript"] = " ".join(line.split()).upper()
        items.append(it)
    index = {"version": INDEX_VERSION, "parts": list(KEYWORD_PARTS), "package": package,
             "items": items, "dropped": dropped, "skipped": skipped}
    _save(DEB / f"{package}.index.json", index)
    log.info("%s: %d utterances, %.2f h; %d dropped for a keyword part; skipped %s", package, len(items),
             sum(it["seconds"] for it in items) / 3600, len(dropped), skipped)
    return index


def _save(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=1))
    os.replace(tmp, path)


def indexes(packages=None):
    """{package: index}, building what is missing or stale. A package that cannot be
    downloaded is left out; one line says which and why."""
    out, missing, reason, stuck = {}, [], None, False
    for package in packages or SOURCES:
        path = DEB / f"{package}.index.json"
        if path.exists():
            index = json.loads(path.read_text())
            if (index.get("version") == INDEX_VERSION and index.get("parts") == list(KEYWORD_PARTS)
                    and all((OUT / it["wav"]).exists() for it in index["items"])):
                out[package] = index
                continue
        if stuck:  # no apt-get, or no network: do not try every package
            missing.append(package)
            continue
        try:
            out[package] = build(package)
        except Unavailable as e:
            missing.append(package)
            reason, stuck = str(e), not e.only_this
    if missing:
        log.warning("apt-get download impossible (%s); continuing without %s",
                    reason, ", ".join(missing))
    dropped = [d for p in out for d in out[p]["dropped"]]
    if out:
        lines = ["package\tfile\tpart\ttranscript"] + [
            f"{d['package']}\t{d['file']}\t{d['part']}\t{' '.join((d['transcript'] or '').split())}"
            for d in dropped]
        tmp = DEB / "dropped.tsv.part"
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, DEB / "dropped.tsv")
    return out


def items(out=None):
    """Manifest items of every kept utterance (training share only), fetching and decoding
    what is missing. `out`: the folder the manifest's wav paths are relative to; the files
    live under CACHE/real, so another folder (a test's) gets none."""
    if out is not None and Path(out).resolve() != OUT.resolve():
        log.info("manifest folder %s is not %s: no Debian speech", out, OUT)
        return []
    got = indexes()
    result = [it for p in got for it in got[p]["items"]]
    n_dropped = sum(len(got[p]["dropped"]) for p in got)
    if got:
        log.info("%d utterances, %.2f h of training speech from %d packages; %d dropped "
                 "for a keyword part (%s)", len(result), sum(it["seconds"] for it in result) / 3600,
                 len(got), n_dropped, DEB / "dropped.tsv")
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rebuild", action="store_true", help="list and filter again (decoded files are kept)")
    args = ap.parse_args()
    setup_logging(os.environ.get("LOG"))
    if args.rebuild:
        for p in SOURCES:
            (DEB / f"{p}.index.json").unlink(missing_ok=True)
    got = indexes()
    total_s = total_n = total_d = 0
    print(f"{'package':32s} {'files':>6s} {'hours':>6s} {'dropped':>7s}")
    for p, index in got.items():
        s = sum(it["seconds"] for it in index["items"])
        total_s, total_n, total_d = total_s + s, total_n + len(index["items"]), total_d + len(index["dropped"])
        print(f"{p:32s} {len(index['items']):6d} {s / 3600:6.2f} {len(index['dropped']):7d}")
    print(f"{'total':32s} {total_n:6d} {total_s / 3600:6.2f} {total_d:7d}   (dropped: {DEB / 'dropped.tsv'})")


if __name__ == "__main__":
    main()
