#!/usr/bin/env bash
# Sets up what the daemon needs, builds it and runs it on the bundled example recording,
# paced like a live microphone, publishing to an MQTT broker. The detections are shown as
# they arrive at the broker, through mosquitto_sub.
#
# The broker is MQTT_BROKER (host:port) when given, else one already listening on
# localhost:1883, else a mosquitto started here on a free port and stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
. scripts/env.sh
mkdir -p bin
go build -ldflags="-X=main.version=$(scripts/version.sh)" -o bin/wakewordd ./cmd/wakewordd

work=$(mktemp -d)
# Background processes, stopped in this order at exit: mosquitto_sub, then the sed that
# prefixes its lines, then a mosquitto started here. Each is recorded by its own PID.
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if [ -n "${MQTT_BROKER:-}" ]; then
  host=${MQTT_BROKER%:*} port=${MQTT_BROKER##*:}
elif listening 127.0.0.1 1883; then
  host=127.0.0.1 port=1883
  echo "--- using the MQTT broker already listening on localhost:1883" >&2
else
  host=127.0.0.1
  port=18830
  while listening "$host" "$port"; do port=$((port + 1)); done
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$work/mosquitto.conf"
  mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do listening "$host" "$port" && break; sleep 0.1; done
  listening "$host" "$port" || { echo "demo: mosquitto did not start:" >&2; cat "$work/mosquitto.log" >&2; exit 1; }
  echo "--- started mosquitto on $host:$port for the demo" >&2
fi

# What a Home Assistant or Rhasspy installation would see: availability, the detection
# events, and the Hermes hotword messages.
# mosquitto_sub writes into a FIFO that sed reads, both started in the background, so that
# $! is each one's own PID (after `a | b &`, $! would be b's alone and a would outlive us).
mkfifo "$work/sub"
mosquitto_sub -h "$host" -p "$port" -v -t 'wakewordd/+/status' -t 'wakewordd/+/detected' -t 'hermes/hotword/+/detected' >"$work/sub" &
sub=$!
sed -u 's/^/mqtt> /' <"$work/sub" &
pids=("$sub" "$!" "${pids[@]}")
sleep 0.3

echo "--- wakewordd on examples/kitchen.wav (19 s, 22.05 kHz, resampled to 16 kHz), publishing to tcp://$host:$port" >&2
status=0
bin/wakewordd run --input examples/kitchen.wav --realtime --stats-interval 5s \
  --mqtt-broker "tcp://$host:$port" "$@" || status=$?
sleep 0.5 # let mosquitto_sub print the last messages
exit "$status"
