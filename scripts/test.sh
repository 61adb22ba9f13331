#!/usr/bin/env bash
# Sets up everything the tests need and runs the whole suite. CI runs exactly this.
# FUZZEXECS=200000 scripts/test.sh fuzzes longer (default 20000 inputs per target).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
. scripts/env.sh
export JACK_NO_START_SERVER=1

step() { printf '\n=== %s\n' "$*"; }

step "format and vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || { echo "gofmt needed: $unformatted" >&2; exit 1; }
go vet ./...

step "build without cgo (no PortAudio)"
CGO_ENABLED=0 go build -o /dev/null ./cmd/wakewordd

step "unit and integration tests"
go test -count=1 ./...

step "race detector on the concurrent packages"
# checkptr is off: the PortAudio binding builds slices from C pointers in a way checkptr
# rejects, which says nothing about our code.
go test -count=1 -race -gcflags=all=-d=checkptr=0 ./audio/ ./pipeline/

step "fuzzing (${FUZZEXECS:-20000} inputs per target)"
for target in "audio FuzzParseWAV" "audio FuzzFLACDecode" "config FuzzParse" "eval FuzzReadTruth" "frontend FuzzStreamingEqualsBatch" "infer FuzzParse" "infer FuzzThresholdsJSON" "infer FuzzDeltaEqualsDense"; do
  set -- $target
  # A count, not a duration: a run whose time runs out while the engine is still gathering
  # coverage or minimising fails with "context deadline exceeded" on a loaded machine.
  go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZEXECS:-20000}x" -fuzzminimizetime 5s "./$1/"
done

echo
echo "all tests passed"
