#!/usr/bin/env bash
# Installs what wakewordd needs on Debian 12 / Ubuntu, idempotently.
# Usage: scripts/setup.sh [build] [test] [demo] [train] [cross] [package] [bench]   (default: build)
# cross: the arm64 cross toolchain and arm64 PortAudio for `make build-arm64` (adds the
# arm64 dpkg architecture once).
# package: what packaging/build-deb.sh and packaging/test.sh use (dpkg-deb, lintian,
# systemd-analyze, strip for both architectures, sox); add cross for the arm64 package.
# bench: what bench/cost/run.sh and bench/perf.sh use (Node.js and npm, torch, perf, JACK).
# Only packages that are missing are installed; nothing happens when all are present.
set -euo pipefail

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build)

pkgs=()
for g in "${groups[@]}"; do
  case "$g" in
    build) pkgs+=(gcc libc6-dev pkg-config portaudio19-dev libasound2-dev git ca-certificates) ;;
    demo)  pkgs+=(gcc libc6-dev pkg-config portaudio19-dev libasound2-dev alsa-utils mosquitto mosquitto-clients) ;;
    test)  pkgs+=(gcc libc6-dev pkg-config portaudio19-dev libasound2-dev alsa-utils jackd2 jack-tools
                  python3 python3-numpy python3-scipy python3-soundfile python3-torch mosquitto mosquitto-clients openssl sox systemd espeak-ng wamerican
                  qemu-user qemu-user-static binfmt-support crossbuild-essential-arm64 make) ;;
    cross) pkgs+=(gcc libc6-dev pkg-config make crossbuild-essential-arm64 qemu-user portaudio19-dev:arm64) ;;
    package) pkgs+=(dpkg-dev lintian man-db binutils binutils-aarch64-linux-gnu systemd sox util-linux git make) ;;
    bench) pkgs+=(gcc libc6-dev pkg-config portaudio19-dev libasound2-dev nodejs python3 python3-numpy python3-scipy python3-soundfile python3-torch linux-perf jackd2 jack-tools qemu-user libc6:arm64); command -v npm >/dev/null || pkgs+=(npm) ;;  # bench/cost/run.sh, bench/perf.sh
    train) pkgs+=(python3 python3-numpy python3-scipy python3-soundfile python3-torch espeak-ng sox libsox-fmt-all flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts wamerican) ;;
    *) echo "setup.sh: unknown group '$g' (want build, test, demo, train, cross, package or bench)" >&2; exit 2 ;;
  esac
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# arm64 packages (name:arm64) need the foreign architecture; adding it is idempotent, and
# the package lists must then be refreshed for it.
need_update=""
if printf '%s\n' "${pkgs[@]}" | grep -q ':arm64$' && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup.sh: adding the arm64 dpkg architecture" >&2
  $sudo dpkg --add-architecture arm64
  need_update=1
fi

missing=()
for p in $(printf '%s\n' "${pkgs[@]}" | sort -u); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ] || [ -n "$need_update" ]; then
  echo "setup.sh: installing ${missing[*]}" >&2
  # jackd2 asks about realtime priority; never prompt.
  echo "jackd2 jackd/tweak_rt_limits boolean false" | $sudo debconf-set-selections 2>/dev/null || true
  $sudo apt-get update -qq
  [ ${#missing[@]} -eq 0 ] || $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# Go: the module needs go >= 1.26; newer toolchains fetch it through the module proxy.
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    echo "setup.sh: Go is at /usr/local/go/bin; add it to PATH" >&2
  else
    echo "setup.sh: Go >= 1.26 is required (https://go.dev/doc/install); none found on PATH" >&2
    exit 1
  fi
fi
