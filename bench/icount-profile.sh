#!/usr/bin/env bash
# Where bench/icount.sh's instructions go: for each function of the pipeline's packages
# (infer, kernels, frontend, engine, detect) and Go's memmove, the arm64 instructions
# executed inside it per second of audio in steady state, counted with the icount plugin's
# address range (lo/hi from the binary's symbol table) over 2 s and 3 s of audio. One run
# per function and length: it takes a while (about 30 minutes). Prints the functions above
# 0.1 M per second, largest first.
#
#   bench/icount-profile.sh [bench/icount flags, e.g. -dense or -model none]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -shared -fPIC -o "$work/libicount.so" ../shared/tools/qemu-icount/icount.c
CGO_ENABLED=0 GOARCH=arm64 go build -o "$work/icount" ./bench/icount

inrange() { # inrange LO HI SECONDS FLAGS...
  local lo=$1 hi=$2 s=$3
  shift 3
  GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 qemu-aarch64 -cpu cortex-a76 \
    -plugin "$work/libicount.so,lo=$lo,hi=$hi" -d plugin "$work/icount" -seconds "$s" "$@" 2>&1 |
    sed -n 's/^icount: .*)=\([0-9]*\)$/\1/p'
}

go tool nm -size -sort address "$work/icount" |
  awk '$3 == "T" && ($4 ~ /^github.com\/wakewordd\/wakewordd\/(infer|kernels|frontend|engine|detect)\./ || $4 ~ /^runtime\.mem(move|clrNoHeapPointers)$/)' |
  while read -r addr size _ name; do
    lo=$((16#$addr))
    hi=$((lo + size))
    d=$(( $(inrange "$lo" "$hi" 3 "$@") - $(inrange "$lo" "$hi" 2 "$@") ))
    if [ "$d" -ge 100000 ]; then
      awk -v d="$d" -v n="${name#github.com/wakewordd/wakewordd/}" 'BEGIN { printf "%8.1f M  %s\n", d / 1e6, n }'
    fi
  done | sort -rn
