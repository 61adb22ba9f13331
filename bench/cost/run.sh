#!/usr/bin/env bash
# What one inference costs in this engine against ONNX Runtime and PyTorch, on the same
# model and the same windows, in one run; plus arm64 instruction counts under qemu and the
# daemon's CPU and peak RSS on real-time audio. See bench/README.md, "Cost against ONNX
# Runtime and PyTorch".
#
#   bench/cost/run.sh [MODEL]        (default models/kwt.safetensors; 1.5-3 minutes on a
#                                     2-core VM, most of it qemu)
#
# 1. Latency per inference, single thread, on the MFCC windows of examples/kitchen.wav at
#    the model's hop (`wakewordd features`, then every window of the model's length that
#    the daemon would score):
#      ort              onnxruntime-node (bench/cost/node_modules, pinned in package-lock.json),
#                       intra/inter-op threads 1, the model exported by torch.onnx.export
#                       (opset 14) from the same tensors; the whole window every hop
#      pytorch          Debian's python3-torch, train/kwt.py's module, set_num_threads(1);
#                       the whole window every hop
#      go-dense-window  this engine's dense pass on the whole window every hop
#      go-dense         the dense pass streaming: each frame embedded once (the daemon's reuse)
#      go-delta         the delta-pruned pass streaming, as the daemon runs it (the default)
#    The engines run in lockstep (cost.py bench): window by window, each in its own process,
#    in an order that rotates, so that other jobs on a shared machine weigh on all of them
#    alike; ratios are also given as the median of per-window ratios. Logits of ORT, PyTorch
#    and the Go dense pass must agree within 1e-3 on every window, or the script fails.
# 2. arm64 instructions under qemu-aarch64 -cpu cortex-a76 with the icount plugin of
#    ../shared/tools/qemu-icount: this engine's whole pipeline (bench/icount, as
#    bench/icount.sh counts it, at two stream lengths) and onnxruntime-node's linux/arm64
#    build run by Debian's arm64 Node.js (bench/cost/node-arm64.sh), at 2 and 22 inferences.
# 3. The daemon on real-time audio for RT_SECONDS: `wakewordd run --device` on a JACK dummy
#    server fed by jack-play, and `wakewordd run --input FILE --realtime`; CPU is
#    utime+stime over wall time from /proc/PID/stat, peak RSS is VmHWM.
#
# Environment: PASSES (5: timed passes over the windows, after one warm-up pass),
# RT_SECONDS (30), ICOUNT=0 skips 2, REALTIME=0 skips 3, THETA (0.5: uniform delta
# threshold for a model file without delta thresholds), OUT (directory for results.json;
# default a temporary directory that is printed and kept).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
PASSES=${PASSES:-5}
RT_SECONDS=${RT_SECONDS:-30}
ICOUNT=${ICOUNT:-1}
REALTIME=${REALTIME:-1}
THETA=${THETA:-0.5}
py=/usr/bin/python3
input=examples/kitchen.wav
model_arg=${1:-models/kwt.safetensors}
[ -f "$model_arg" ] || { echo "run.sh: no model file $model_arg" >&2; exit 2; }
out=${OUT:-$(mktemp -d /tmp/wakewordd-cost.XXXXXX)}
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() { # the background parts run in their own process groups (set -m below)
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
t_start=$(date +%s)
say() { printf '\n== %s  [%d s]\n' "$*" "$(($(date +%s) - t_start))"; }

say "prerequisites and builds"
"$py" -c 'import torch, numpy' 2>/dev/null || { echo "run.sh: /usr/bin/python3 lacks torch or numpy (scripts/setup.sh bench)" >&2; exit 1; }
command -v node >/dev/null || { echo "run.sh: node not found (scripts/setup.sh bench)" >&2; exit 1; }
if [ ! -f bench/cost/node_modules/onnxruntime-node/package.json ]; then
  (cd bench/cost && ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund)
fi
go build -o "$work/wakewordd" ./cmd/wakewordd
go build -o "$work/gocost" ./bench/cost/gocost
go build -o "$work/sweep" ./bench/sweep
ww=$work/wakewordd

# A snapshot of the model, so that every engine reads the same bytes. A file without delta
# thresholds would run dense in the daemon; give the copy uniform ones (`bench/sweep
# --theta`) so that there is a delta pass to measure, and say so.
model=$work/model.safetensors
cp "$model_arg" "$model"
theta_note="the model file's"
if ! "$py" bench/cost/cost.py has-delta "$model"; then
  "$work/sweep" --model "$model_arg" --theta "$THETA" --write-model "$model" >/dev/null
  theta_note="none in the file: uniform theta $THETA (values $THETA x 0.004) added for this run"
fi
"$ww" features -o "$work/features.npy" "$input"
COST_INPUT=$input COST_MODEL=$model_arg "$py" bench/cost/cost.py prepare "$model" "$work/features.npy" "$work"

say "latency: all engines in lockstep, window by window, $PASSES timed passes"
"$py" bench/cost/cost.py bench "$model" "$work" "$work/gocost" "$PASSES"

# --- 2 and 3 run side by side: instruction counts do not depend on machine load, and the
# real-time daemon uses a few per cent of a core.
icount_go() { # writes $work/icount.go.json
  local lib=$work/libicount.so bin=$work/icount.arm64 q
  gcc -O2 -shared -fPIC -o "$lib" ../shared/tools/qemu-icount/icount.c
  CGO_ENABLED=0 GOARCH=arm64 go build -o "$bin" ./bench/icount
  q="qemu-aarch64 -cpu cortex-a76 -plugin $lib -d plugin"
  local json="{" sep=""
  command -v qemu-aarch64 >/dev/null || { echo "qemu-aarch64 not installed (scripts/setup.sh bench)" >"$work/icount.go.txt"; return 0; }
  for path in delta dense; do
    local flags=(-model "$model") a n a2 n2
    [ "$path" = dense ] && flags+=(-dense)
    # 2 s and 4 s of audio: the difference is 2 s and 20 inferences in steady state.
    read -r a n < <(GOMAXPROCS=1 $q "$bin" -seconds 2 "${flags[@]}" 2>&1 | awk '/^inferences:/ {n=$2} /^icount:/ {sub("total=", "", $2); t=$2} END {print t, n}')
    read -r a2 n2 < <(GOMAXPROCS=1 $q "$bin" -seconds 4 "${flags[@]}" 2>&1 | awk '/^inferences:/ {n=$2} /^icount:/ {sub("total=", "", $2); t=$2} END {print t, n}')
    [ -n "${a2:-}" ] && [ -n "${n2:-}" ] && [ -n "${a:-}" ] || { echo "bench/icount did not run under qemu-aarch64 with the plugin" >"$work/icount.go.txt"; return 0; }
    json+=$(awk -v p="$path" -v s="$sep" -v d="$((a2 - a))" -v n="$((n2 - n))" \
      'BEGIN { printf "%s\"%s\": {\"instructions_per_audio_s\": %.0f, \"instructions_per_inference\": %.0f}", s, p, d / 2, d / n }')
    sep=", "
  done
  echo "$json}" >"$work/icount.go.json"
}
icount_ort() { # writes $work/icount.ort.json, or a reason in $work/icount.ort.txt
  local root lib=$work/libicount.so.ort a b
  gcc -O2 -shared -fPIC -o "$lib" ../shared/tools/qemu-icount/icount.c
  if ! root=$(bench/cost/node-arm64.sh 2>"$work/node-arm64.log"); then
    { echo "no arm64 Node.js: $(tr '\n' ' ' <"$work/node-arm64.log")"; } >"$work/icount.ort.txt"
    return 0
  fi
  # --v8-pool-size=0 --single-threaded: no V8 worker threads (concurrent JIT and GC), whose
  # work would land in either count at random (the plugin's counter is not per thread).
  # --predictable-gc-schedule: V8 otherwise sizes its heap and schedules collections from
  # wall-clock allocation rates, so that a busy machine under qemu changed the figure by 6 %.
  # The main thread's garbage collections are part of what an inference costs in Node.js;
  # 20 inferences between the two counts spread them evenly (with 6, one collection more or
  # less moved the figure by 10 %). Repeated runs now agree within 0.2 %.
  count() {
    (cd bench/cost && qemu-aarch64 -cpu cortex-a76 -L "$root" -plugin "$lib" -d plugin \
      "$root/usr/bin/node" --v8-pool-size=0 --single-threaded --predictable-gc-schedule \
      ort.js "$work" count "$1" 2>&1) |
      sed -n 's/^icount: total=\([0-9]*\).*/\1/p'
  }
  a=$(count 2)
  b=$(count 22)
  if [ -z "$a" ] || [ -z "$b" ]; then
    echo "onnxruntime-node did not run under qemu-aarch64 (see bench/cost/node-arm64.sh)" >"$work/icount.ort.txt"
    return 0
  fi
  awk -v d="$((b - a))" -v hop="$(sed -n 's/.*"hop_ms": \([0-9]*\).*/\1/p' "$work/meta.json")" \
    'BEGIN { printf "{\"instructions_per_inference\": %.0f, \"instructions_per_audio_s\": %.0f}\n", d / 20, d / 20 * 1000 / hop }' >"$work/icount.ort.json"
}

# proc_cpu PID: utime+stime in clock ticks.
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# measure NAME PID LOG: CPU % and peak RSS of PID over RT_SECONDS of steady state.
measure() {
  local name=$1 pid=$2 log=$3 c0 c1 t0 t1 hwm rss anon shm audio
  for _ in $(seq 100); do grep -q 'audio flowing' "$log" && break; sleep 0.1; done
  sleep 1
  kill -0 "$pid" 2>/dev/null || { echo "{\"not_measured\": \"the daemon exited: $(tail -1 "$log" | tr -d '"\\')\"}"; return 0; }
  c0=$(proc_cpu "$pid")
  t0=$(date +%s.%N)
  sleep "$RT_SECONDS"
  c1=$(proc_cpu "$pid")
  t1=$(date +%s.%N)
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")
  shm=$(awk '/^RssShmem/ {print $2}' "/proc/$pid/status")
  kill -INT "$pid"
  wait "$pid" || true
  audio=$(sed -n 's/.*msg="wakewordd stopped" audio_s=\([0-9.]*\).*/\1/p' "$log")
  awk -v n="$name" -v c="$((c1 - c0))" -v tck="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$t1" -v hwm="$hwm" -v rss="$rss" -v anon="$anon" -v shm="$shm" -v a="${audio:-0}" \
    'BEGIN { printf "{\"how\": \"%s\", \"cpu_percent\": %.2f, \"wall_s\": %.1f, \"peak_rss_mib\": %.1f, \"rss_mib\": %.1f, \"rss_anon_mib\": %.1f, \"rss_shmem_mib\": %.1f, \"audio_s_at_exit\": %s}\n", n, 100 * c / tck / (t1 - t0), t1 - t0, hwm / 1024, rss / 1024, anon / 1024, shm / 1024, a }'
}
realtime_file() {
  # The example repeated to outlast the measurement (a copy of its samples, same format).
  "$py" - "$input" "$work/long.wav" "$((RT_SECONDS + 15))" <<'PY'
import sys, wave
with wave.open(sys.argv[1]) as r:
    params, frames = r.getparams(), r.readframes(r.getnframes())
need = int(sys.argv[3]) * params.framerate * params.nchannels * params.sampwidth
with wave.open(sys.argv[2], "wb") as w:
    w.setparams(params)
    w.writeframes((frames * (need // len(frames) + 1))[:need])
PY
  "$ww" run --model "$model" --input "$work/long.wav" --realtime --log-level info >"$work/rt-file.log" 2>&1 &
  local pid=$!
  measure "run --input kitchen.wav (repeated) --realtime" "$pid" "$work/rt-file.log" >"$work/rt.file.json"
}
realtime_jack() {
  for tool in jackd jack_wait jack_lsp jack_connect jack-play; do
    command -v "$tool" >/dev/null || { echo "$tool not installed (scripts/setup.sh bench)" >"$work/rt.jack.txt"; return 0; }
  done
  (
    export HOME=$work/jack JACK_DEFAULT_SERVER=wakewordd-cost JACK_NO_START_SERVER=1 JACK_NO_AUDIO_RESERVATION=1
    mkdir -p "$HOME"
    jackd --no-realtime -n "$JACK_DEFAULT_SERVER" -d dummy -r 16000 -p 320 >"$work/jackd.log" 2>&1 &
    local jpid=$! dev="" ppid="" pid="" from=""
    trap 'kill $ppid $pid $jpid 2>/dev/null || true' EXIT
    jack_wait -w -t 10 >/dev/null 2>&1 || { echo "jackd did not start: $(tail -3 "$work/jackd.log")" >"$work/rt.jack.txt"; exit 0; }
    dev=$("$ww" devices 2>/dev/null | awk '/JACK/ {print $1; exit}')
    [ -n "$dev" ] || { echo "PortAudio lists no JACK device" >"$work/rt.jack.txt"; exit 0; }
    "$ww" run --model "$model" --device "$dev" --log-level info >"$work/rt-jack.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do jack_lsp 2>/dev/null | grep -q '^PortAudio:in' && break; sleep 0.1; done
    # kitchen.wav (22.05 kHz, resampled by jack-play) three times over: longer than the
    # measurement.
    jack-play "$input" "$input" "$input" >"$work/jack-play.log" 2>&1 &
    ppid=$!
    for _ in $(seq 50); do
      from=$(jack_lsp 2>/dev/null | grep '^jack-play' | head -1) || true
      [ -n "$from" ] && jack_connect "$from" "$(jack_lsp | grep '^PortAudio:in' | head -1)" 2>/dev/null && break
      sleep 0.1
    done
    measure "run --device $dev (JACK dummy server at 16 kHz, fed by jack-play)" "$pid" "$work/rt-jack.log" >"$work/rt.jack.json"
  )
}

if [ "$ICOUNT" = 1 ] || [ "$REALTIME" = 1 ]; then
  say "arm64 instruction counts under qemu (cortex-a76) and the daemon on real-time audio (${RT_SECONDS} s), side by side"
fi
bg=()
set -m # each background part in a process group of its own, for cleanup
if [ "$ICOUNT" = 1 ]; then
  icount_go &
  bg+=($!)
  icount_ort &
  bg+=($!)
fi
if [ "$REALTIME" = 1 ]; then
  realtime_jack &
  bg+=($!)
  realtime_file &
  bg+=($!)
fi
pids=("${bg[@]}")
for p in "${bg[@]}"; do wait "$p" || true; done
pids=()
set +m

# Everything the report adds to the latency figures.
{
  printf '{"delta_thresholds_source": "%s",\n' "$theta_note"
  printf ' "date": "%s", "cpu": "%s", "versions": {"go": "%s", "node": "%s", "onnxruntime-node": "%s", "qemu": "%s"}' \
    "$(date -u +%Y-%m-%d)" "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo) x $(nproc)" \
    "$(go env GOVERSION)" "$(node --version)" "$(sed -n 's/.*"version": "\(.*\)".*/\1/p' bench/cost/node_modules/onnxruntime-node/package.json | head -1)" \
    "$(qemu-aarch64 --version 2>/dev/null | head -1 | awk '{print $3}')"
  for f in icount.go icount.ort rt.jack rt.file; do
    if [ -f "$work/$f.json" ]; then printf ',\n "%s": %s' "$f" "$(cat "$work/$f.json")"; fi
    if [ -f "$work/$f.txt" ]; then printf ',\n "%s": {"not_measured": "%s"}' "$f" "$(tr -d '"\\' <"$work/$f.txt")"; fi
  done
  echo "}"
} >"$work/extra.json"

say "results"
status=0
"$py" bench/cost/cost.py report "$work" || status=$?
cp "$work/results.json" "$out/results.json" 2>/dev/null || true
echo
echo "results.json: $out/results.json ($(($(date +%s) - t_start)) s)"
exit $status
