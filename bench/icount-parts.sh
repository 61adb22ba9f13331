#!/usr/bin/env bash
# Where the daemon's arm64 instructions go per second of audio, by stage: resampler, MFCC
# frontend, gate (the streaming KWT with the engine, the window model's per-frame
# embedding and the detector) and window model (its forward pass while the gate is open),
# for several kinds of audio and input rates. One run of bench/icount under
# qemu-aarch64 -cpu cortex-a76 with the plugin bench/qemu-parts counts every stage at
# once: a stage begins where bench/icount calls its marker function (enterResample,
# enterFrontend, enterGate) or where the window model's forward pass
# (infer.(*Delta|*Dense).ForwardEmbedded) is entered, and the gate resumes at
# detect.(*Detector).Push. Each stage's figure is inclusive: the kernels it calls and the
# Go runtime while it runs. As in bench/icount.sh, the figure is the difference between
# two stream lengths (FROM and TO seconds, default 4 and 24) over the seconds between; the
# total is the sum of the four (what runs before the stream, start-up and decoding, is no
# stage's, and the Go runtime's timer-driven background work there varies a little from
# run to run). Prints a Markdown table.
#
#   bench/icount-parts.sh [bench/icount flags, e.g. -dense or -gate none]
#   KINDS="keywords silence" RATES="16000 48000 44100" bench/icount-parts.sh
#
# KINDS (default "keywords speech noise silence"):
#   keywords  examples/kitchen.wav: espeak-ng speech over pink noise, saying "Alexa" and
#             "Jarvis" (22.05 kHz; decoded to 16 kHz, or resampled by sox to other rates)
#   speech    a minute of keyword-free espeak-ng speech over real noise
#             (bench/streamgen -seed 1 -minutes 1 -noise ../shared/data/noise)
#   noise     ../shared/data/noise/doing_the_dishes.flac (real household noise)
#   silence   zeros
# RATES (default "16000 48000"): 16000 decodes the file to 16 kHz before the stream (as
# bench/icount.sh does: no resampler in the count); any other rate converts the file to
# that rate with sox (or takes it as it is when it already has that rate) and streams it
# through the daemon's resampler (bench/icount -stream), as from a microphone at that rate.
# The audio is made once into AUDIO (default ~/.cache/wakewordd/icount-parts).
# WAKEWORDD_KERNELS=generic in the environment counts the plain-Go kernels.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
audio=${AUDIO:-${XDG_CACHE_HOME:-$HOME/.cache}/wakewordd/icount-parts}
mkdir -p "$audio"
gcc -O2 -shared -fPIC -o "$work/libparts.so" bench/qemu-parts/parts.c
CGO_ENABLED=0 GOARCH=arm64 go build -o "$work/icount" ./bench/icount

# The triggers: address and stage (1 resampler, 2 frontend, 3 gate, 4 window model).
go tool nm "$work/icount" | awk '
  $3 == "main.enterResample" { print "0x" $1, 1 }
  $3 == "main.enterFrontend" { print "0x" $1, 2 }
  $3 == "main.enterGate" { print "0x" $1, 3 }
  $3 ~ /\/detect\.\(\*Detector\)\.Push$/ { print "0x" $1, 3 }
  $3 ~ /\/infer\.\(\*(Delta|Dense)\)\.ForwardEmbedded$/ { print "0x" $1, 4 }' >"$work/triggers"
[ "$(wc -l <"$work/triggers")" -ge 5 ] || { echo "icount-parts: marker symbols not found in bench/icount" >&2; exit 1; }

source_of() { # source_of KIND: a file of that kind of audio
  case $1 in
  keywords) echo examples/kitchen.wav ;;
  speech)
    [ -f "$audio/speech.wav" ] ||
      go run ./bench/streamgen -seed 1 -minutes 1 -noise ../shared/data/noise -out "$audio/speech.wav" >&2
    echo "$audio/speech.wav" ;;
  noise) echo ../shared/data/noise/doing_the_dishes.flac ;;
  silence)
    [ -f "$audio/silence.wav" ] || sox -n -r 16000 -c 1 -b 16 "$audio/silence.wav" trim 0 60
    echo "$audio/silence.wav" ;;
  *) echo "icount-parts: unknown kind $1" >&2; exit 1 ;;
  esac
}

count() { # count SECONDS FLAGS...: "total p1 p2 p3 p4"
  local s=$1
  shift
  GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 qemu-aarch64 -cpu cortex-a76 \
    -plugin "$work/libparts.so,triggers=$work/triggers" -d plugin "$work/icount" -seconds "$s" "$@" 2>&1 |
    sed -n 's/^parts: total=\([0-9]*\) p0=[0-9]* p1=\([0-9]*\) p2=\([0-9]*\) p3=\([0-9]*\) p4=\([0-9]*\) .*/\1 \2 \3 \4 \5/p'
}

from=${FROM:-4} to=${TO:-24}
echo "| audio | input | resampler | frontend | gate | window model | total | window model's hops |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for kind in ${KINDS:-keywords speech noise silence}; do
  src=$(source_of "$kind")
  for rate in ${RATES:-16000 48000}; do
    flags=(-input "$src")
    if [ "$rate" != 16000 ]; then
      in=$src
      if [ "$(soxi -r "$src")" != "$rate" ]; then
        in=$audio/$kind.$rate.wav
        [ -f "$in" ] || sox "$src" -r "$rate" "$in"
      fi
      flags=(-input "$in" -stream)
    fi
    a=($(count "$from" "${flags[@]}" "$@"))
    b=($(count "$to" "${flags[@]}" "$@"))
    [ ${#a[@]} -eq 5 ] && [ ${#b[@]} -eq 5 ] || { echo "icount-parts: no count for $kind at $rate Hz" >&2; exit 1; }
    judged=$(GOMAXPROCS=1 qemu-aarch64 -cpu cortex-a76 "$work/icount" -seconds "$to" "${flags[@]}" "$@" |
      sed -n 's/.*the model scored \([0-9]* of [0-9]*\) hops.*/\1/p')
    awk -v k="$kind" -v r="$rate" -v s="$((to - from))" -v j="${judged:-every hop}" \
      -v p1=$((b[1] - a[1])) -v p2=$((b[2] - a[2])) -v p3=$((b[3] - a[3])) -v p4=$((b[4] - a[4])) \
      'BEGIN { printf "| %s | %.1f kHz | %.2f M | %.2f M | %.2f M | %.2f M | **%.2f M** | %s (0-%d s) |\n",
        k, r / 1000, p1 / s / 1e6, p2 / s / 1e6, p3 / s / 1e6, p4 / s / 1e6, (p1 + p2 + p3 + p4) / s / 1e6, j, '"$to"' }'
  done
done
