#!/usr/bin/env bash
# Measures the model's accuracy as the Picovoice wake-word benchmark does: the validation
# clips of the real keyword recordings placed into background speech with noise 10 dB below
# it; miss rate at 1 false alarm per 10 hours and at 0.5 per hour, per keyword and on
# average; every keyword on at once at the model's settings; a DET curve. Two backgrounds,
# each with its own table and results folder:
#   1. real (the primary table): a continuous conversation of the real speech of the
#      validation speakers (train/realdata.py's cache) over their real noise, HOURS (2) long;
#   2. synthetic: espeak-ng sentences and pauses over the real noise recordings of
#      $DATA/noise, SYNTH_HOURS (10) long.
# See bench/accuracy/README.md.
#
#   bench/accuracy/run.sh                  # 2 h real, then 10 h synthetic, seed 1
#   HOURS=0.5 bench/accuracy/run.sh        # a quick look at both (the same seed reuses the cache)
#   SYNTH_HOURS=0 bench/accuracy/run.sh    # the real background only
#   PICK=0.5 bench/accuracy/run.sh -clean-miss 0.1   # instead: choose thresholds on the selection share
#                                          # for 0.5 FA/h all on (10 % missed alone in silence; shipped this way)
#   PICK_MISS=0.05 bench/accuracy/run.sh -clean-miss 0.1   # or: each keyword's highest threshold within 5 % misses
#                                          # alone (10 % alone in silence)
#
# Environment: HOURS (2: the real background), SYNTH_HOURS (10, or HOURS when that is set;
# 0 skips the synthetic background), SEED (1), WORK (/tmp/wakewordd-accuracy: cache and
# results), MODEL (models/kwt.safetensors), GATE (unset: as `wakewordd run`, the default
# model behind its default gate models/kwt-stream.safetensors, any other model without;
# none, or a gate file), SPLIT (the model's .split.json), TOLERANCE (0.5s:
# how long after a clip's end a detection still counts as a hit), JOBS (all CPUs), DATA
# (../shared/data), CACHE (/work/train-cache: where train/realdata.py decodes the real data;
# it is run first when its manifest is missing).
# PICK=B chooses one threshold per keyword so that with every keyword on the stream has at
# most B false alarms per hour, at the lowest mean miss rate, on the selection share (keyword
# clips and real background), never on validation; it writes picked.json and a copy of the
# model with the thresholds and each keyword's calibration ladder (-calibrate), which
# detect.sensitivity maps onto (WRITE_MODEL, default picked.safetensors in the results folder).
# PICK_MISS=M instead chooses each keyword's highest threshold at which, alone, it misses at most
# M of its clips, and writes the model with them and each keyword's calibration ladder
# (-calibrate), which detect.sensitivity maps onto; on the selection share too.
# Further arguments go to the tool (its -h lists them).
# Results: $WORK/results-real-${HOURS}h-seed$SEED/ and $WORK/results-tts-${SYNTH_HOURS}h-seed$SEED/
# (with PICK: $WORK/pick-${PICK}-real-${HOURS}h-seed$SEED/), each with results.md, results.json,
# det.png, curve.csv, truth.csv. Only the sweep reruns when only TOLERANCE changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
SYNTH_HOURS=${SYNTH_HOURS:-${HOURS:-10}}
HOURS=${HOURS:-2}
SEED=${SEED:-1}
WORK=${WORK:-/tmp/wakewordd-accuracy}
MODEL=${MODEL:-models/kwt.safetensors}
JOBS=${JOBS:-$(nproc)}
DATA=${DATA:-../shared/data}
CACHE=${CACHE:-/work/train-cache}
SPLIT=${SPLIT:-${MODEL%.safetensors}.split.json}
TOLERANCE=${TOLERANCE:-0.5s}
suffix=""
[ "$TOLERANCE" = 0.5s ] || suffix="-tolerance$TOLERANCE"
[ "${GATE:-}" != none ] || suffix+="-nogate"

[ -d "$DATA/keywords" ] || { echo "no keyword recordings under $DATA/keywords" >&2; exit 1; }
# The real speech and noise, split by speaker and decoded once (idempotent).
if [ ! -f "$CACHE/real/manifest.json" ]; then
  echo "decoding the real speech and noise into $CACHE/real (train/realdata.py)" >&2
  CACHE="$CACHE" DATA="$DATA" /usr/bin/python3 train/realdata.py
fi

mkdir -p "$WORK/bin"
go build -o "$WORK/bin/accuracy" ./bench/accuracy
common=(-model "$MODEL" -split "$SPLIT" -data "$DATA/keywords" -seed "$SEED" -tolerance "$TOLERANCE" -work "$WORK" -j "$JOBS")
[ -z "${GATE:-}" ] || common+=(-gate "$GATE")

# A choice of thresholds (PICK_MISS, else PICK) runs on the selection share only and writes
# the model with them and each keyword's calibration.
choice=()
if [ -n "${PICK_MISS:-}" ]; then
  choice=(-pick-miss "$PICK_MISS") name="pick-miss-$PICK_MISS"
elif [ -n "${PICK:-}" ]; then
  choice=(-pick "$PICK") name="pick-$PICK"
fi
if [ ${#choice[@]} -gt 0 ]; then
  out="$WORK/$name-real-${HOURS}h-seed$SEED$suffix"
  WRITE_MODEL=${WRITE_MODEL:-$out/picked.safetensors}
  "$WORK/bin/accuracy" "${common[@]}" -set selection -background real -real "$CACHE/real/selection" \
    -hours "$HOURS" "${choice[@]}" -calibrate -write-model "$WRITE_MODEL" -out "$out" "$@"
  cat "$out/results.md"
  echo "thresholds: $out/picked.json; model with them and each keyword's calibration: $WRITE_MODEL"
  exit 0
fi

out="$WORK/results-real-${HOURS}h-seed$SEED$suffix"
"$WORK/bin/accuracy" "${common[@]}" -set validation -background real -real "$CACHE/real/validation" \
  -hours "$HOURS" -out "$out" "$@"
cat "$out/results.md"
echo "DET curve: $out/det.png"

[ "$SYNTH_HOURS" != 0 ] || exit 0
for tool in espeak-ng; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: scripts/setup.sh test installs it" >&2; exit 1; }
done
[ -f /usr/share/dict/words ] || { echo "/usr/share/dict/words is missing: scripts/setup.sh test installs wamerican" >&2; exit 1; }
out="$WORK/results-tts-${SYNTH_HOURS}h-seed$SEED$suffix"
echo
"$WORK/bin/accuracy" "${common[@]}" -set validation -background tts -noise "$DATA/noise" \
  -hours "$SYNTH_HOURS" -out "$out" "$@"
cat "$out/results.md"
echo "DET curve: $out/det.png"
