#!/usr/bin/env bash
# Sets up what the daemon needs, builds it and runs it on the bundled example recording,
# paced like a live microphone, printing the pipeline's statistics as it goes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
. scripts/env.sh
mkdir -p bin
go build -o bin/wakewordd ./cmd/wakewordd
echo "--- wakewordd on examples/kitchen.wav (19 s, 22.05 kHz, resampled to 16 kHz)" >&2
exec bin/wakewordd run --input examples/kitchen.wav --realtime --stats-interval 2s "$@"
