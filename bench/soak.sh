#!/usr/bin/env bash
# The long soak as a benchmark (not a test): HOURS of audio (examples/kitchen.wav repeated,
# gain within ±2 dB) through a freshly built `wakewordd run --input -` faster than real time,
# publishing to a real mosquitto (persistence on) restarted every minute of wall time,
# while a persistent-session QoS 1 subscriber counts the distinct events that arrive. See
# bench/README.md, "Long soak".
#
#   bench/soak.sh HOURS [bench/soak flags, e.g. -restart-every 30s -out DIR] [-- wakewordd run flags]
#
# Results go to OUT (default: a new directory under /tmp, printed): summary.txt and
# summary.json, soak.csv (RSS, goroutines and the MQTT counters every second of wall time),
# soak.png, restarts.csv, daemon.log, mosquitto.log. Exits 1 when a detection was lost or
# memory or goroutines grew beyond the bounds the summary states, 2 when it could not run.
# Needs Go and mosquitto (scripts/setup.sh test installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

if [ $# -lt 1 ] || [[ "$1" == -* ]]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
export WAKEWORDD_SOAK_COMMAND="bench/soak.sh $*" # for the summary
hours=$1
shift
out=${OUT:-}
for a in "$@"; do
  case $a in -out|--out|-out=*|--out=*) out=given ;; esac
done
if [ -z "$out" ]; then
  out=$(mktemp -d /tmp/wakewordd-soak-XXXXXX)
  set -- -out "$out" "$@"
elif [ "$out" != given ]; then
  set -- -out "$out" "$@"
fi
exec go run ./bench/soak -hours "$hours" "$@"
