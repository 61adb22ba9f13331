#!/usr/bin/env bash
# Measures the model's accuracy as the Picovoice wake-word benchmark does: the validation
# clips of the real keyword recordings placed into HOURS of synthetic background speech
# and real noise at 10 dB SNR; miss rate at 1 false alarm per 10 hours and at 0.5 per
# hour, per keyword and on average; a DET curve. See bench/accuracy/README.md.
#
#   bench/accuracy/run.sh                  # 10 h, seed 1
#   HOURS=0.5 bench/accuracy/run.sh        # a quick look (the same seed reuses the cache)
#
# Environment: HOURS (10), SEED (1), WORK (/tmp/wakewordd-accuracy: cache and results),
# MODEL (models/kwt.safetensors), SPLIT (the model's .split.json), TOLERANCE (0.5s: how
# long after a clip's end a detection still counts as a hit), JOBS (all CPUs), DATA
# (../shared/data). Further arguments go to the tool (its -h lists them).
# Results: $WORK/results-${HOURS}h-seed$SEED[-toleranceT]/: results.md, results.json,
# det.png, curve.csv, truth.csv. Only the sweep reruns when only TOLERANCE changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
HOURS=${HOURS:-10}
SEED=${SEED:-1}
WORK=${WORK:-/tmp/wakewordd-accuracy}
MODEL=${MODEL:-models/kwt.safetensors}
JOBS=${JOBS:-$(nproc)}
DATA=${DATA:-../shared/data}
SPLIT=${SPLIT:-${MODEL%.safetensors}.split.json}
TOLERANCE=${TOLERANCE:-0.5s}
out="$WORK/results-${HOURS}h-seed$SEED"
[ "$TOLERANCE" = 0.5s ] || out="$out-tolerance$TOLERANCE"

for tool in espeak-ng; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: scripts/setup.sh test installs it" >&2; exit 1; }
done
[ -f /usr/share/dict/words ] || { echo "/usr/share/dict/words is missing: scripts/setup.sh test installs wamerican" >&2; exit 1; }
[ -d "$DATA/keywords" ] || { echo "no keyword recordings under $DATA/keywords" >&2; exit 1; }

mkdir -p "$WORK/bin"
go build -o "$WORK/bin/accuracy" ./bench/accuracy
"$WORK/bin/accuracy" -model "$MODEL" -split "$SPLIT" -set validation -data "$DATA/keywords" \
  -background tts -noise "$DATA/noise" -hours "$HOURS" -seed "$SEED" -tolerance "$TOLERANCE" -work "$WORK" -out "$out" -j "$JOBS" "$@"
cat "$out/results.md"
echo "DET curve: $out/det.png"
