#!/usr/bin/env bash
# Regenerates examples/kitchen.wav: synthetic speech (espeak-ng) with two wake words in it,
# over synthetic pink noise, at 22.05 kHz so the demo also exercises the resampler.
# Deterministic for a given espeak-ng and sox version. Needs: scripts/setup.sh train
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
say() { espeak-ng -v "$1" -s "$2" -p "$3" -w "$tmp/$4.wav" "$5"; }
say en-us 150 50 a "Good morning. I think we should start the coffee before anything else."
say en-gb 140 40 b "Alexa"
say en-us 160 55 c "turn on the kitchen lights"
say en-us 150 45 d "And later, maybe a short walk."
say en-gb-x-rp 150 45 e "Jarvis"
say en-us 155 50 f "what is the weather tomorrow"
sox -n -r 22050 -c 1 "$tmp/gap.wav" trim 0 0.8
sox -n -r 22050 -c 1 "$tmp/lead.wav" trim 0 1.0
sox "$tmp/lead.wav" "$tmp/a.wav" "$tmp/gap.wav" "$tmp/b.wav" "$tmp/gap.wav" "$tmp/c.wav" "$tmp/gap.wav" \
    "$tmp/d.wav" "$tmp/gap.wav" "$tmp/e.wav" "$tmp/gap.wav" "$tmp/f.wav" "$tmp/lead.wav" "$tmp/speech.wav"
len=$(soxi -D "$tmp/speech.wav")
sox -R -n -r 22050 -c 1 "$tmp/noise.wav" synth "$len" pinknoise vol 0.02
sox -R -m "$tmp/speech.wav" "$tmp/noise.wav" -b 16 examples/kitchen.wav gain -n -3
soxi examples/kitchen.wav
