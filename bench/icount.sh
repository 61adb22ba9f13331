#!/usr/bin/env bash
# arm64 instructions executed per second of audio by the whole pipeline in steady state
# (streaming MFCC, per-frame embedding, one inference per hop, softmax, detection), for the
# delta-pruned and the dense forward pass, with the NEON and with the plain-Go kernels.
# bench/icount streams examples/kitchen.wav (repeated) for 4 s and for 12 s under
# qemu-aarch64 -cpu cortex-a76 with the icount plugin of ../shared/tools/qemu-icount; the
# difference of the two counts over the 8 s between them is the figure (start-up, model
# loading and the first window's fill cancel out). Prints a Markdown table.
#
#   bench/icount.sh [bench/icount flags, e.g. -model FILE or -hop 200ms]
#   FROM=4 TO=64 PASSES=delta-neon bench/icount.sh -input FILE   # one row, over 4 s to 64 s of FILE
#
# PASSES (default "delta-neon delta-generic dense-neon dense-generic") picks the rows; FROM and
# TO (default 4 and 12) the two stream lengths in seconds. The generic rows run bench/icount
# with WAKEWORDD_KERNELS=generic, which package kernels reads at start-up.
#
# Without a model file (models/kwt.safetensors) bench/icount uses a random-weight KWT-1
# with delta thresholds 0.5 (see bench/icount/main.go).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -shared -fPIC -o "$work/libicount.so" ../shared/tools/qemu-icount/icount.c
CGO_ENABLED=0 GOARCH=arm64 go build -o "$work/icount" ./bench/icount
qemu="qemu-aarch64 -cpu cortex-a76 -plugin $work/libicount.so -d plugin"

count() { # count SECONDS FLAGS... (with $kernels_env in the environment)
  local s=$1
  shift
  env $kernels_env GOMAXPROCS=1 $qemu "$work/icount" -seconds "$s" "$@" 2>&1 | sed -n 's/^icount: total=\([0-9]*\).*/\1/p'
}

echo "| forward pass | kernels | instructions per second of audio | instructions per inference |"
echo "| --- | --- | ---: | ---: |"
from=${FROM:-4} to=${TO:-12}
for pass in ${PASSES:-delta-neon delta-generic dense-neon dense-generic}; do
  path=${pass%-*} kernels=${pass#*-}
  flags=("$@")
  [ "$path" = dense ] && flags+=(-dense)
  kernels_env=WAKEWORDD_KERNELS=
  [ "$kernels" = generic ] && kernels_env=WAKEWORDD_KERNELS=generic
  inf=$(env $kernels_env GOMAXPROCS=1 qemu-aarch64 -cpu cortex-a76 "$work/icount" -seconds "$to" "${flags[@]}" | sed -n 's/^inferences: //p')
  inf4=$(env $kernels_env GOMAXPROCS=1 qemu-aarch64 -cpu cortex-a76 "$work/icount" -seconds "$from" "${flags[@]}" | sed -n 's/^inferences: //p')
  a=$(count "$from" "${flags[@]}")
  b=$(count "$to" "${flags[@]}")
  awk -v p="$path" -v k="$kernels" -v d="$((b - a))" -v n="$((inf - inf4))" -v s="$((to - from))" \
    'BEGIN { printf "| %s | %s | %.1f M | %.2f M |\n", p, k, d / s / 1e6, d / n / 1e6 }'
done
