#!/usr/bin/env bash
# Sets up everything the tests need and runs the whole suite. CI runs exactly this.
# FUZZTIME=30s scripts/test.sh fuzzes each parser for longer (default 10s each).
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

step "fuzzing the parsers (${FUZZTIME:-10s} each)"
for target in "audio FuzzParseWAV" "audio FuzzFLACDecode" "config FuzzParse" "eval FuzzReadTruth" "frontend FuzzStreamingEqualsBatch" "infer FuzzParse" "infer FuzzThresholdsJSON" "infer FuzzDeltaEqualsDense"; do
  set -- $target
  # A short minimize time: minimizing a large new input can otherwise stall a short run.
  go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZTIME:-10s}" -fuzzminimizetime 5s "./$1/"
done

echo
echo "all tests passed"
