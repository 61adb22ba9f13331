#!/usr/bin/env bash
# Measures a trained model the way MODEL.md reports it:
#   0. sweeps the delta thresholds on the selection split and stores them (bench/sweep;
#      SWEEP=0 skips); the validation split only measures them;
#   1. tunes its detection defaults (smoothing, patience, per-keyword thresholds) on the
#      selection split and 20 min of generated keyword-free audio, and stores them in the
#      model file (TUNE=0 skips this);
#   2. `wakewordd eval` on the validation split of the real recordings;
#   3. `wakewordd eval --stream` on 10 min of generated keyword-free audio (false alarms per
#      hour) and on 10 min of generated speech with a wake word every ~15 s (miss rate).
# The streams are generated from fixed seeds, so the figures are reproducible.
#
#   bench/model-eval.sh                 # models/kwt.safetensors
#   MODEL=path.safetensors WORK=/tmp/x bench/model-eval.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
MODEL=${MODEL:-models/kwt.safetensors}
SPLIT=${SPLIT:-${MODEL%.safetensors}.split.json}
DATA=${DATA:-../shared/data}
CACHE=${CACHE:-/work/train-cache}   # training cache: its held-out synthetic speech joins the validation folder
WORK=${WORK:-/tmp/wakewordd-eval}
mkdir -p bin "$WORK"
for tool in wakewordd:./cmd/wakewordd streamgen:./bench/streamgen tune:./bench/tune sweep:./bench/sweep; do
  go build -o "bin/${tool%%:*}" "${tool#*:}"
done
KEYWORDS=alexa,computer,jarvis,smart_mirror,snowboy,view_glass
[ -f "$WORK/neg-tune.wav" ] || bin/streamgen -seed 100 -minutes 20 -noise "$DATA/noise" -out "$WORK/neg-tune.wav"
[ -f "$WORK/neg-test.wav" ] || bin/streamgen -seed 1 -minutes 10 -noise "$DATA/noise" -out "$WORK/neg-test.wav"
[ -f "$WORK/pos-test.wav" ] || bin/streamgen -seed 7 -minutes 10 -every 15s -keywords "$KEYWORDS" -noise "$DATA/noise" -out "$WORK/pos-test.wav"

rm -rf "$WORK/validation"
cacheflag=()
[ -f "$CACHE/features/items.json" ] && cacheflag=(-cache "$CACHE")
bin/tune -split "$SPLIT" -set validation -data "$DATA/keywords" -noise "$DATA/noise" "${cacheflag[@]}" -link "$WORK/validation"

if [ "${SWEEP:-1}" = 1 ]; then
  # The selection split's keyword clips and held-out synthetic negatives. No noise excerpts:
  # tune cuts them from the same unseen tail of each recording for every split, so they
  # belong to the validation folder.
  rm -rf "$WORK/selection"
  bin/tune -split "$SPLIT" -set selection -data "$DATA/keywords" "${cacheflag[@]}" -link "$WORK/selection"
  echo "=== delta threshold sweep on the selection split"
  # SWEEP_ARGS narrows the search on a slow machine, e.g. "--per-class 40 --steps 10".
  bin/sweep --model "$MODEL" --out "${MODEL%.safetensors}.sweep" --write-model "$MODEL" ${SWEEP_ARGS:-} "$WORK/selection"
  echo "=== the chosen delta thresholds on the validation split"
  bin/sweep --model "$MODEL" --grid 0 --model-scales 1 --steps 0 --steps-all 0 --out "$WORK/validation-sweep" "$WORK/validation"
fi
if [ "${TUNE:-1}" = 1 ]; then
  echo "=== tuning detection defaults on the selection split and $WORK/neg-tune.wav"
  bin/tune -model "$MODEL" -split "$SPLIT" -set selection -data "$DATA/keywords" -write "$MODEL" "$WORK/neg-tune.wav"
fi
echo "=== eval on the validation split"
bin/wakewordd eval --model "$MODEL" "$WORK/validation"
echo "=== keyword-free stream (false alarms)"
bin/wakewordd eval --model "$MODEL" --stream "$WORK/neg-test.wav"
echo "=== stream with wake words (misses)"
bin/wakewordd eval --model "$MODEL" --stream "$WORK/pos-test.wav"
echo "=== ops and speed, dense vs delta, on the bundled example"
bin/wakewordd bench --model "$MODEL" --input examples/kitchen.wav
