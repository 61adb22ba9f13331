#!/usr/bin/env bash
# Sets up everything the tests need and runs the whole suite. CI runs exactly this.
# FUZZEXECS=200000 scripts/test.sh fuzzes longer (default 20000 inputs per target).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test cross
. scripts/env.sh
export JACK_NO_START_SERVER=1

step() { printf '\n=== %s\n' "$*"; }

step "format, vet and staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || { echo "gofmt needed: $unformatted" >&2; exit 1; }
go vet ./...
# staticcheck, pinned, built once into bin/tools (go install leaves go.mod alone).
[ -x bin/tools/staticcheck ] && bin/tools/staticcheck -version | grep -q '(0\.8\.2)' ||
  GOBIN="$PWD/bin/tools" go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
bin/tools/staticcheck ./...

step "build without cgo (no PortAudio)"
CGO_ENABLED=0 go build -o /dev/null ./cmd/wakewordd

step "unit and integration tests"
go test -count=1 ./...

step "training data: real-data splits by speaker, real negatives, hard-negative mining"
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 -m unittest discover -s train -p 'test_*.py'
step "benchmark scripts: the cost report's spread over runs"
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 -m unittest discover -s bench/cost -p 'test_*.py'

step "soak: 2 hours of audio through the daemon and a real broker, faster than real time"
# Memory and goroutines must stay flat and every detection must reach the broker.
# TestSoak reports only when it ends (minutes): a heartbeat meanwhile, which stops with the
# test, or within 20 s of this script if it is interrupted.
soak_start=$SECONDS
(
  nap=""
  trap 'kill $nap 2>/dev/null; exit 0' TERM
  while kill -0 $$ 2>/dev/null; do
    sleep 20 &
    nap=$!
    wait "$nap"
    echo "soak: still running ($((SECONDS - soak_start)) s)"
  done
) &
heartbeat=$!
soak=0
WAKEWORDD_SOAK_HOURS=${SOAK_HOURS:-2} go test -count=1 -run '^TestSoak$' -timeout 60m -v ./cmd/wakewordd/ |
  grep --line-buffered -E '^(---|=== RUN|ok|FAIL|\s+soak)|soak:' || soak=$?
kill "$heartbeat" 2>/dev/null || true
wait "$heartbeat" 2>/dev/null || true
[ "$soak" -eq 0 ] || exit "$soak"

step "race detector on the concurrent packages"
# checkptr is off: the PortAudio binding builds slices from C pointers in a way checkptr
# rejects, which says nothing about our code.
go test -count=1 -race -gcflags=all=-d=checkptr=0 ./audio/ ./pipeline/ ./publish/

step "arm64: every package that builds without cgo, under qemu-aarch64 (Cortex-A76)"
# The NEON kernels (package kernels) run here. cmd/wakewordd is left out: its tests exec the
# binary they build, which qemu-user cannot follow; the next step runs that binary.
# -short skips the PyTorch training smoke test (it ran natively above).
qemu="qemu-aarch64 -cpu cortex-a76"
arm64_pkgs=$(CGO_ENABLED=0 GOARCH=arm64 go list ./... | grep -v '/cmd/wakewordd$')
# TestWillMarksKilledDaemonOffline re-executes its test binary as the daemon to kill, which
# qemu-user cannot follow either; it ran natively above.
CGO_ENABLED=0 GOARCH=arm64 go test -count=1 -short -skip '^TestWillMarksKilledDaemonOffline$' -exec "$qemu" $arm64_pkgs
# The one optional extension, SDOT (the int8 MLPs), has a fallback for cores without it:
# the kernels and the shipped model's golden checks again on a Cortex-A53 (Pi 3).
# The frontend's NEON kernels (package kernels) must give its golden frames' bits there too.
CGO_ENABLED=0 GOARCH=arm64 go test -count=1 -exec "qemu-aarch64 -cpu cortex-a53" ./kernels/ ./frontend/
CGO_ENABLED=0 GOARCH=arm64 go test -count=1 -run 'GoldenShippedModel|Int8MLP' -exec "qemu-aarch64 -cpu cortex-a53" ./infer/

step "arm64 daemon: cross-built with cgo PortAudio, same detections as amd64 (qemu)"
xdir=$(mktemp -d)
trap 'rm -rf "$xdir"' EXIT
go build -o "$xdir/wakewordd" ./cmd/wakewordd
make --no-print-directory build-arm64 BIN="$xdir"
model=models/kwt.safetensors
if [ ! -f "$model" ]; then
  # No trained model: a random KWT-1 (input normalisation fitted to the example, delta
  # thresholds 0.5).
  model=$xdir/random.safetensors
  go run ./bench/sweep --random --theta 0.5 --write-model "$model" >/dev/null
fi
# At the model's thresholds; if that finds nothing, at a low one, so that there is
# something to compare.
compared=0
for path in delta dense; do
  for threshold in model 0.2; do
    flags=()
    [ "$path" = dense ] && flags+=(--dense)
    [ "$threshold" = model ] || flags+=(--threshold "$threshold")
    "$xdir/wakewordd" detect --json --model "$model" "${flags[@]}" examples/kitchen.wav >"$xdir/amd64.out"
    $qemu "$xdir/wakewordd-linux-arm64" detect --json --model "$model" "${flags[@]}" examples/kitchen.wav >"$xdir/arm64.out"
    diff -u "$xdir/amd64.out" "$xdir/arm64.out" ||
      { echo "arm64 daemon: detections differ from amd64 ($path pass, threshold $threshold)" >&2; exit 1; }
    n=$(wc -l <"$xdir/amd64.out")
    compared=$((compared + n))
    echo "$path pass, threshold $threshold: $n detections, the same on arm64 and amd64"
    [ "$n" -eq 0 ] || break
  done
done
[ "$compared" -gt 0 ] || { echo "arm64 daemon: no detections to compare" >&2; exit 1; }
# Stronger: the whole pipeline (resampling, MFCC, both forward passes, softmax) gives the
# same bits on both; bench/icount hashes every posterior of 5 s of audio.
go build -o "$xdir/icount" ./bench/icount
CGO_ENABLED=0 GOARCH=arm64 go build -o "$xdir/icount-arm64" ./bench/icount
# By default the model runs behind its gate (models/kwt-stream.safetensors); -gate none
# scores every hop with it.
for pass in "" -dense "-gate none"; do
  a=$("$xdir/icount" -model "$model" -seconds 5 $pass | grep posteriors_fnv64)
  b=$($qemu "$xdir/icount-arm64" -model "$model" -seconds 5 $pass | grep posteriors_fnv64)
  [ "$a" = "$b" ] || { echo "arm64 pipeline ${pass:-delta}: $b, amd64 $a" >&2; exit 1; }
  # A core without SDOT takes the int8 product's other path, to the same bits.
  c=$(qemu-aarch64 -cpu cortex-a53 "$xdir/icount-arm64" -model "$model" -seconds 5 $pass | grep posteriors_fnv64)
  [ "$a" = "$c" ] || { echo "arm64 (Cortex-A53) pipeline ${pass:-delta}: $c, amd64 $a" >&2; exit 1; }
  name=${pass#-}
  echo "${name:-delta} pipeline: bit for bit the same on arm64 (Cortex-A76 and A53) and amd64 ($a)"
done

step "packaging: lintian, systemd-analyze, the unit under a user systemd"
packaging/test.sh

step "fuzzing the parsers and the kernels (${FUZZEXECS:-20000} inputs per target)"
for target in "audio FuzzParseWAV" "audio FuzzFLACDecode" "config FuzzParse" "eval FuzzReadTruth" "frontend FuzzStreamingEqualsBatch" "infer FuzzParse" "infer FuzzThresholdsJSON" "infer FuzzDeltaEqualsDense" "infer FuzzStreamEqualsWindow" \
              "kernels FuzzDot" "kernels FuzzDotRows" "kernels FuzzAXPY" "kernels FuzzAXPYRows" \
              "kernels FuzzRowAXPY" "kernels FuzzAdd" "kernels FuzzSelectDelta" "kernels FuzzGELU" \
              "kernels FuzzSoftmax" "kernels FuzzLayerNorm" "kernels FuzzInt8MulVec" \
              "kernels FuzzMagnitude" "kernels FuzzLogFloor" "kernels FuzzBandMatrix" "kernels FuzzAXPYRowsRounded" \
              "kernels FuzzDotPairs" "kernels FuzzDotStrided" \
              "wyoming FuzzReader" "publish FuzzParseSwitch" "publish FuzzParseHermesToggle" "publish FuzzParseHAStatus" "publish FuzzMessageHandlers"; do
  set -- $target
  # A count, not a duration: a run whose time runs out while the engine is still gathering
  # coverage or minimising fails with "context deadline exceeded" on a loaded machine.
  go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZEXECS:-20000}x" -fuzzminimizetime 5s "./$1/"
done

echo
echo "all tests passed"
