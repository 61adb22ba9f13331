#!/usr/bin/env bash
# The spread of the x86 latency ratios (this engine against ONNX Runtime and PyTorch) over
# several independent runs of bench/cost/run.sh's latency part: one run on a shared machine
# moves with its load (go-delta / ort has come out anywhere from 0.51 to 0.63), so the
# README gives the least, the median and the greatest of RUNS runs, each a fresh set of
# processes. See bench/README.md, "Cost against ONNX Runtime and PyTorch".
#
#   bench/cost/spread.sh [MODEL]       (default models/kwt.safetensors; about 40 s a run)
#
# Environment: RUNS (5), PASSES (5: timed passes per run), OUT (directory for each run's
# results.json and spread.json; default a temporary directory that is printed and kept).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
out=${OUT:-$(mktemp -d /tmp/wakewordd-cost-spread.XXXXXX)}
mkdir -p "$out"
results=()
for i in $(seq "$RUNS"); do
  echo "== run $i of $RUNS" >&2
  ICOUNT=0 REALTIME=0 OUT="$out/run$i" bench/cost/run.sh "$@" >"$out/run$i.log" 2>&1 ||
    { echo "spread.sh: run $i failed; its output: $out/run$i.log" >&2; tail -20 "$out/run$i.log" >&2; exit 1; }
  grep '^| go-delta / ort' "$out/run$i.log" >&2 || true
  results+=("$out/run$i/results.json")
done
/usr/bin/python3 bench/cost/cost.py spread "$out/spread.json" "${results[@]}"
echo
echo "spread.json: $out/spread.json"
