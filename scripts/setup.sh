#!/usr/bin/env bash
# Installs what wakewordd needs on Debian 12 / Ubuntu, idempotently.
# Usage: scripts/setup.sh [build] [test] [demo] [train] [cross] [package] [bench]   (default: build)
# cross: the arm64 cross toolchain and arm64 PortAudio for `make build-arm64` (adds the
# arm64 dpkg architecture once).
# package: what packaging/build-deb.sh and packaging/test.sh use (dpkg-deb, lintian,
# systemd-analyze, strip for both architectures, sox); add cross for the arm64 package.
# bench: what bench/cost/run.sh and bench/perf.sh use (Node.js and npm, torch, perf, JACK).
# Only packages that are missing are installed; nothing happens when all are present.
# apt-get's output goes to a log, ${TMPDIR:-/tmp}/wakewordd-setup.XXXXXX.log or WAKEWORDD_SETUP_LOG,
# whose path is printed, and whose end is shown on failure; apt-get waits up to 10 minutes
# for another apt or dpkg (unattended-upgrades) to release its locks.
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

# apt's output goes to a log, one line per step here; on failure its end is shown. Every
# apt-get waits up to 10 minutes for another apt or dpkg (unattended-upgrades on a fresh
# machine) to finish: DPkg::Lock::Timeout for dpkg's lock, and a retry loop for the
# package lists' lock, which `apt-get update` does not wait for.
log=""
lock_wait=600
open_log() {
  [ -z "$log" ] || return 0
  log=${WAKEWORDD_SETUP_LOG:-}
  if [ -z "$log" ] || ! : >>"$log" 2>/dev/null; then
    log=$(mktemp --suffix=.log "${TMPDIR:-/tmp}/wakewordd-setup.XXXXXX")
  fi
  printf '=== %s: scripts/setup.sh %s\n' "$(date -u +%FT%TZ)" "${groups[*]}" >>"$log"
}
fail() {
  echo "setup.sh: $1 failed; the last lines of $log:" >&2
  tail -n 30 "$log" | sed 's/^/  /' >&2
  echo "setup.sh: full log: $log" >&2
  exit 1
}
# apt_get STEP ARGS...: (sudo) apt-get ARGS, noninteractive, output to the log.
apt_get() {
  local step=$1 start deadline=$((SECONDS + lock_wait)) waiting="" holder
  shift
  while :; do
    start=$(wc -l <"$log")
    echo "\$ apt-get $*" >>"$log"
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$lock_wait" "$@" </dev/null >>"$log" 2>&1; then
      return 0
    fi
    # Another apt holds a lock that this apt-get did not wait for: wait and try again.
    if tail -n +"$((start + 1))" "$log" | grep -q 'Could not get lock' && [ "$SECONDS" -lt "$deadline" ]; then
      if [ -z "$waiting" ]; then
        waiting=1
        holder=$(tail -n +"$((start + 1))" "$log" | sed -n 's/.*It is held by process \([0-9]* ([^)]*)\).*/\1/p' | head -n 1)
        echo "setup.sh: waiting up to ${lock_wait}s for another apt/dpkg to finish${holder:+ (lock held by process $holder)}" >&2
      fi
      sleep 5
      continue
    fi
    fail "$step"
  done
}

# arm64 packages (name:arm64) need the foreign architecture; adding it is idempotent, and
# the package lists must then be refreshed for it.
need_update=""
if printf '%s\n' "${pkgs[@]}" | grep -q ':arm64$' && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  open_log
  echo "setup.sh: adding the arm64 dpkg architecture (log: $log)" >&2
  $sudo dpkg --add-architecture arm64 >>"$log" 2>&1 || fail "dpkg --add-architecture arm64"
  need_update=1
fi

missing=()
for p in $(printf '%s\n' "${pkgs[@]}" | sort -u); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ] || [ -n "$need_update" ]; then
  open_log
  echo "setup.sh: updating the package lists (log: $log)" >&2
  apt_get "apt-get update" update -q
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: installing ${missing[*]} (log: $log)" >&2
    # jackd2 asks about realtime priority; never prompt.
    echo "jackd2 jackd/tweak_rt_limits boolean false" | $sudo debconf-set-selections >>"$log" 2>&1 || true
    apt_get "installing ${missing[*]}" install -y -q --no-install-recommends "${missing[@]}"
  fi
  echo "setup.sh: done (log: $log)" >&2
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
