#!/usr/bin/env bash
# perf on the daemon: `perf stat` and `perf record -g` of `wakewordd run` processing a file
# (as fast as it can, or paced with --realtime) or live audio from a device, and what they
# mean per second of audio: CPU % (task-clock / audio seconds) and, where the CPU has
# hardware counters, instructions and cycles per second of audio. See bench/README.md,
# "perf on the device".
#
#   bench/perf.sh [--input FILE] [--repeat N] [--realtime] [--device DEV --seconds S]
#                 [--bin WAKEWORDD] [--out DIR] [--no-record] [-- more `wakewordd run` flags]
#
#   --input FILE   audio file (default examples/kitchen.wav), repeated N times (--repeat,
#                  default 10, 1 with --realtime) into a temporary WAV so that start-up is
#                  a small part of the run
#   --realtime     pace the file like a microphone (`run --realtime`)
#   --device DEV   capture from a device instead (index or name, see `wakewordd devices`) for
#                  S seconds (--seconds, default 30); the daemon gets SIGINT at the end
#   --bin          the daemon to measure (default: built from this checkout with `go build`
#                  when Go is installed, else bin/wakewordd, else `wakewordd` on PATH)
#   --out DIR      where perf.data, perf-stat.txt, cpu.pprof and the logs go (default: a new
#                  temporary directory, printed). Not under /tmp/perf-*: perf reads a binary
#                  there as a JIT symbol map and shows bare addresses.
#   --no-record    perf stat only
#
# The model and everything else come from the daemon's config and flags as usual (e.g.
# `-- --model models/kwt-6layer.safetensors --dense`).
#
# Two runs: the first under `perf stat -e cycles,instructions,task-clock,context-switches,
# page-faults`; the second under `perf record -g` (frame pointers: Go keeps them on amd64
# and arm64) with the daemon's own `--cpuprofile`. Where `perf stat -e instructions` is not
# supported (virtual machines, some kernels), the script says so and counts the software
# events only.
set -euo pipefail
cd "$(dirname "$0")/.."

input=examples/kitchen.wav repeat="" realtime="" device="" seconds=30 bin="" out="" record=1
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --input) input=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --realtime) realtime=1; shift ;;
    --device) device=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-record) record=""; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "perf.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v perf >/dev/null || { echo "perf.sh: perf not found (Debian/Raspberry Pi OS: apt-get install linux-perf)" >&2; exit 1; }
out=${out:-$(mktemp -d /tmp/wakewordd-perf.XXXXXX)}
mkdir -p "$out"

have_go=""
if [ -f scripts/env.sh ] && (. scripts/env.sh) >/dev/null 2>&1; then
  . scripts/env.sh
  have_go=1
fi
if [ -z "$bin" ]; then
  if [ -n "$have_go" ]; then
    go build -o "$out/wakewordd" ./cmd/wakewordd
    bin=$out/wakewordd
  elif [ -x bin/wakewordd ]; then
    bin=bin/wakewordd
  else
    bin=$(command -v wakewordd) || { echo "perf.sh: no wakewordd (build it or pass --bin)" >&2; exit 1; }
  fi
fi

# What is measured.
args=(run --log-level info --stats-interval 0)
if [ -n "$device" ]; then
  args+=(--device "$device")
  what="device $device for ${seconds} s"
else
  [ -f "$input" ] || { echo "perf.sh: no such file $input" >&2; exit 2; }
  repeat=${repeat:-$([ -n "$realtime" ] && echo 1 || echo 10)}
  src=$input
  if [ "$repeat" -gt 1 ]; then
    src=$out/input.wav
    python3 - "$input" "$src" "$repeat" <<'PY' || { echo "perf.sh: --repeat needs python3 and a WAV input" >&2; exit 2; }
import sys, wave
with wave.open(sys.argv[1]) as r:
    params, frames = r.getparams(), r.readframes(r.getnframes())
with wave.open(sys.argv[2], "wb") as w:
    w.setparams(params)
    w.writeframes(frames * int(sys.argv[3]))
PY
  fi
  args+=(--input "$src")
  [ -n "$realtime" ] && args+=(--realtime)
  what="$input x $repeat${realtime:+, paced in real time}"
fi
args+=("${extra[@]}")
launch() { # the daemon, stopped by SIGINT after --seconds when it reads a device
  if [ -n "$device" ]; then
    timeout -s INT "$seconds" "$bin" "${args[@]}"
  else
    "$bin" "${args[@]}"
  fi
}

# Hardware counters?
hw=""
if perf stat -x, -e instructions true 2>&1 >/dev/null | grep -q '^[0-9]'; then
  hw=1
  events=cycles,instructions,task-clock,context-switches,page-faults
else
  events=task-clock,context-switches,page-faults
  echo "perf.sh: this machine has no hardware counters for perf ('perf stat -e instructions' is not supported):"
  echo "         software events only ($events); no instructions or cycles per second of audio"
fi

echo "perf.sh: $bin ${args[*]}"
echo "perf.sh: perf stat -e $events ($what)"
perf stat -x, -o "$out/perf-stat.csv" -e "$events" -- bash -c "$(declare -f launch); $(declare -p bin args device seconds); launch" \
  >"$out/stat-run.log" 2>&1 || true
audio=$(sed -n 's/.*msg="wakewordd stopped" audio_s=\([0-9.]*\).*/\1/p' "$out/stat-run.log" | tail -1)
[ -n "$audio" ] || { echo "perf.sh: the daemon did not report its audio seconds:" >&2; tail -5 "$out/stat-run.log" >&2; exit 1; }
grep -v '^#' "$out/perf-stat.csv" | grep -v '^$' >"$out/perf-stat.txt"
val() { awk -F, -v e="$1" '$3 ~ "^"e {print $1}' "$out/perf-stat.txt" | head -1; }
tc=$(val task-clock)
echo
echo "audio processed: $audio s ($what)"
awk -F, '{ printf "  %-18s %s %s\n", $3, $1, $2 }' "$out/perf-stat.txt"
echo
awk -v tc="$tc" -v a="$audio" 'BEGIN { printf "CPU per second of audio: %.2f %% of one core (task-clock %.1f ms / %.2f s of audio)\n", tc / 10 / a, tc, a }'
if [ -n "$hw" ]; then
  ins=$(val instructions) cyc=$(val cycles)
  if [[ "$ins" =~ ^[0-9]+$ ]] && [[ "$cyc" =~ ^[0-9]+$ ]]; then
    awk -v i="$ins" -v c="$cyc" -v a="$audio" -v tc="$tc" 'BEGIN {
      printf "instructions per second of audio: %.1f M\ncycles per second of audio: %.1f M (IPC %.2f, %.2f GHz while running)\n", i / a / 1e6, c / a / 1e6, i / c, c / tc / 1e6 }'
  else
    echo "instructions/cycles not counted: $ins / $cyc (see $out/perf-stat.txt)"
  fi
fi
echo "(the whole process: start-up and model loading included)"

if [ -n "$record" ]; then
  echo
  echo "perf.sh: perf record -g, with --cpuprofile $out/cpu.pprof"
  args+=(--cpuprofile "$out/cpu.pprof")
  perf record -g -o "$out/perf.data" -- bash -c "$(declare -f launch); $(declare -p bin args device seconds); launch" \
    >"$out/record-run.log" 2>&1 || true
  echo "top functions by samples (self), from perf report --no-children:"
  perf report -i "$out/perf.data" --stdio --no-children --fields overhead,sym -g none 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -15 | sed 's/ *$//' | cut -c1-110 || true
  if [ -s "$out/cpu.pprof" ] && [ -n "$have_go" ]; then
    echo
    echo "the daemon's own CPU profile (--cpuprofile), go tool pprof -top:"
    go tool pprof -top -nodecount 12 "$out/cpu.pprof" 2>/dev/null | sed -n '/flat%/,$p' | cut -c1-110 || true
  fi
  echo
  echo "more: perf report -i $out/perf.data   (call graphs; --no-children for self time)"
  [ -s "$out/cpu.pprof" ] && echo "      go tool pprof -top $out/cpu.pprof   (or -http=:8080 for a flame graph)"
fi
echo "files: $out"
