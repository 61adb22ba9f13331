#!/usr/bin/env bash
# Trains the wake-word KWT from a clean checkout, on the CPU, and writes the model file.
#
#   train/train.sh                      # full run: data preparation, then 45 min of training
#   MINUTES=3 OUT=/tmp/kwt-quick.safetensors train/train.sh    # quick end-to-end check
#
# Environment (all optional):
#   OUT         model file to write (default models/kwt.safetensors); beside it go
#               <name>.golden.safetensors, <name>.summary.json/.md and <name>.split.json
#   DEPTH       encoder layers (default 6, the shipped model; 12 is KWT-1, models/kwt-12layer)
#   CONTEXT     0 (default): the window KWT; n > 0: a streaming KWT whose tokens attend to
#               the n latest tokens (train/README.md, "Streaming KWT")
#   MINUTES     training time budget in minutes (default 55); the LR schedule follows it
#   STEPS       fixed number of training steps instead of MINUTES (reproducible schedule)
#   CACHE       work directory for synthetic audio and features (default /work/train-cache);
#               finished steps are reused by later runs
#   DATA        shared data folder (default ../shared/data beside the repository)
#   DATA_SCALE  multiplies the number of synthetic clips (default 1.0)
#   SEED        random seed (default 1)
#   THREADS     torch threads (default 1: fastest per sample for a KWT this size)
#   WORKERS     parallel data-preparation processes (default 2)
#   LOG         log file (default $CACHE/train.log)
#
# Needs: Go >= 1.26 and `scripts/setup.sh train` (Debian's python3-torch, numpy, scipy,
# soundfile, espeak-ng, flite, festival voices, sox, wamerican).
set -euo pipefail

cd "$(dirname "$0")/.."
export CACHE="${CACHE:-/work/train-cache}"
export LOG="${LOG:-$CACHE/train.log}"
export OUT="${OUT:-models/kwt.safetensors}"
export DEPTH="${DEPTH:-6}" MINUTES="${MINUTES:-55}" SEED="${SEED:-1}" THREADS="${THREADS:-1}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=/usr/bin/python3   # Debian's torch lives here; another python3 may come first on PATH

mkdir -p "$CACHE"
log() { echo "$(date +%H:%M:%S) train.sh $*" | tee -a "$LOG" >&2; }

missing=()
for tool in go espeak-ng flite festival text2wave sox; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
$PY -c 'import torch, numpy, scipy, soundfile' 2>/dev/null || missing+=("python3-torch/numpy/scipy/soundfile")
if [ ${#missing[@]} -gt 0 ]; then
  echo "train.sh: missing ${missing[*]}; run scripts/setup.sh train" >&2
  exit 1
fi

log "building bin/wakewordd (its frontend computes every training feature)"
go build -o bin/wakewordd ./cmd/wakewordd

log "preparing data in $CACHE"
$PY train/prepare.py

if [ -n "${STEPS:-}" ]; then budget="$STEPS steps"; else budget="$MINUTES min"; fi
log "training KWT depth $DEPTH for $budget -> $OUT"
$PY train/train.py --out "$OUT"
log "done: $OUT"
