#!/usr/bin/env bash
# Teaches the shipped models real people and real rooms: fine-tunes the window KWT and its
# gate on the training share of ../shared/data/real (speech as `unknown`, noise as `silence`,
# both under the keyword clips) with hard-negative mining, the delta pass in the loop at each
# model's stored thresholds, both at once (one CPU thread each). models/MODEL.md has the run
# that made the shipped files and how their thresholds were chosen afterwards.
#
#   train/real.sh                       # -> $OUTDIR/kwt.safetensors, $OUTDIR/kwt-stream.safetensors
#   MINUTES=3 OUTDIR=/tmp/q train/real.sh   # quick end-to-end check
#
# Environment (all optional): MINUTES (45), OUTDIR ($CACHE/real-models), CACHE
# (/work/train-cache), DATA (../shared/data), SEED (1), WINDOW and GATE (the models to start
# from, default models/kwt.safetensors and models/kwt-stream.safetensors), MINE_EVERY (minutes
# between mining rounds, 8), LABEL_SMOOTHING (0.1), DEBIAN_SPEECH (1: add the Debian packages'
# speech, train/debianspeech.py). The shipped models took two rounds (models/MODEL.md).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export CACHE="${CACHE:-/work/train-cache}" SEED="${SEED:-1}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
MINUTES="${MINUTES:-45}"
OUTDIR="${OUTDIR:-$CACHE/real-models}"
WINDOW="${WINDOW:-models/kwt.safetensors}"
GATE="${GATE:-models/kwt-stream.safetensors}"
PY=/usr/bin/python3
mkdir -p "$OUTDIR"
log() { echo "$(date +%H:%M:%S) real.sh $*" | tee -a "$CACHE/real.log" >&2; }

$PY -c 'import torch, numpy, scipy, soundfile' 2>/dev/null || { echo "real.sh: run scripts/setup.sh train" >&2; exit 1; }
go build -o bin/wakewordd ./cmd/wakewordd
log "decoding the real recordings into $CACHE/real (once)"
$PY train/realdata.py
log "preparing features (real speech, noise and backgrounds included)"
LOG="$CACHE/prepare.log" $PY train/prepare.py

common=(--minutes "$MINUTES" --dense-share 0.3 --class-weights silence=0.15,unknown=0.4
        --mine-every "${MINE_EVERY:-8}" --mine-windows 15000 --mine-keep 1500 --hard-share 0.2
        --label-smoothing "${LABEL_SMOOTHING:-0.1}" --seed "$SEED")
log "fine-tuning $WINDOW and $GATE for $MINUTES min each, in parallel"
$PY train/delta_finetune.py --model "$WINDOW" --out "$OUTDIR/kwt.safetensors" --lr 3e-4 \
  --scale-min 0.75 --scale-max 1.5 --select-scales 1,1.25 --eval-every 500 "${common[@]}" --log "$OUTDIR/kwt.log" &
w=$!
$PY train/delta_finetune.py --model "$GATE" --out "$OUTDIR/kwt-stream.safetensors" --lr 3e-4 \
  --scale-min 0.5 --scale-max 1.5 --select-scales 1 "${common[@]}" --log "$OUTDIR/kwt-stream.log" &
g=$!
wait $w
wait $g
log "done: $OUTDIR/kwt.safetensors, $OUTDIR/kwt-stream.safetensors"
