#!/usr/bin/env bash
# arm64 instructions per call of every kernel of package kernels at KWT-1's shapes (d=64,
# 149 tokens, MLP 256), NEON against plain Go, counted under qemu-aarch64 -cpu cortex-a76
# with the icount plugin of ../shared/tools/qemu-icount. Each figure is
# (count at N+100 calls - count at 100 calls) / N of BenchmarkKernels/<case>, with N chosen
# for about 300 M instructions, so that the benchmark's setup and the Go runtime's start
# cancel out and the runtime's background threads (counted too) are noise below 1 %;
# asynchronous preemption is off, as its signals add instructions in proportion to the wall
# time. The figures include the benchmark loop and, for the in-place kernels, the copy that
# restores their input (see BenchmarkKernels). Prints a Markdown table.
#
#   bench/kernels-icount.sh [path/to/libicount.so]
#
# KERNELS=REGEX limits the run to the cases whose name matches (grep -E), e.g. 'Int8|Quantize';
# CPU=cortex-a53 counts on a core without the dot-product extension (the int8 product's
# SMULL/SADALP path) instead of cortex-a76.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
plugin=${1:-}
if [ -z "$plugin" ]; then
  gcc -O2 -shared -fPIC -o "$work/libicount.so" ../shared/tools/qemu-icount/icount.c
  plugin=$work/libicount.so
fi
CGO_ENABLED=0 GOARCH=arm64 go test -c -o "$work/kernels.test" ./kernels
qemu="qemu-aarch64 -cpu ${CPU:-cortex-a76}"

count() { # count CASE/IMPL CALLS
  local re
  re=$(printf '%s' "BenchmarkKernels/$1" | sed 's#[^/]*#^&$#g')
  GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 $qemu -plugin "$plugin" -d plugin "$work/kernels.test" -test.run '^$' \
    -test.bench "$re" -test.benchtime "$2x" 2>&1 | sed -n 's/^icount: total=\([0-9]*\).*/\1/p'
}
percall() { # a rough figure from 1000 calls, then enough calls for about 300 M instructions
  local base rough n
  base=$(count "$1" 100)
  rough=$(( ($(count "$1" 1100) - base) / 1000 ))
  n=$(( 300000000 / (rough > 100 ? rough : 100) ))
  n=$(( n < 10000 ? 10000 : n ))
  echo $(( ($(count "$1" $((n + 100))) - base) / n ))
}

cases=$(GOMAXPROCS=1 $qemu "$work/kernels.test" -test.run '^$' -test.bench Kernels -test.benchtime 1x |
  sed -n 's#^BenchmarkKernels/\(.*\)/neon[[:space:]].*#\1#p' | grep -E "${KERNELS:-.}")
echo "| kernel | shape | generic | NEON | generic / NEON |"
echo "| --- | --- | ---: | ---: | ---: |"
for c in $cases; do
  g=$(percall "$c/generic")
  n=$(percall "$c/neon")
  awk -v c="$c" -v g="$g" -v n="$n" 'BEGIN { split(c, p, "/"); printf "| %s | %s | %d | %d | %.1f |\n", p[1], p[2], g, n, g / n }'
done
