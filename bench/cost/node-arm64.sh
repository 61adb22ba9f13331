#!/usr/bin/env bash
# Makes a small arm64 root for running Debian's arm64 Node.js under qemu-aarch64 -L ROOT, so
# that onnxruntime-node's linux/arm64 build (shipped inside the npm package) can be counted
# with the icount plugin. Prints ROOT on success.
#
#   bench/cost/node-arm64.sh [ROOT]   (default ${XDG_CACHE_HOME:-~/.cache}/wakewordd/node-arm64)
#
# It fetches Debian 12's nodejs:arm64 (Node 18), its libraries and the arch-all JavaScript
# modules libnode loads at start-up with `apt-get download` (no installation: the amd64
# nodejs stays as it is) and unpacks them with dpkg-deb. It needs the arm64 dpkg
# architecture (scripts/setup.sh cross adds it) and fresh package lists.
#
# One file is not Debian's: ROOT/proc/cpuinfo. qemu 7.2's linux-user passes the host's
# /proc/cpuinfo through (an x86 one), on which ONNX Runtime's cpuinfo library finds no
# arm64 cores and crashes at load; with -L, the guest's open("/proc/cpuinfo") reads
# ROOT/proc/cpuinfo instead, which here describes two Cortex-A76 cores (Raspberry Pi 5), the
# same CPU as `-cpu cortex-a76`. ONNX Runtime picks its kernels from the CPU features qemu
# reports (getauxval), which match.
set -euo pipefail
root=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/wakewordd/node-arm64}
if [ -x "$root/usr/bin/node" ] && [ -f "$root/proc/cpuinfo" ] && [ -f "$root/usr/share/nodejs/cjs-module-lexer/lexer.js" ]; then
  echo "$root"
  exit 0
fi
dpkg --print-foreign-architectures | grep -qx arm64 ||
  { echo "node-arm64.sh: the arm64 dpkg architecture is not enabled (scripts/setup.sh cross)" >&2; exit 1; }
pkgs=(nodejs:arm64 libnode108:arm64 libbrotli1:arm64 libc-ares2:arm64 libicu72:arm64 libnghttp2-14:arm64
  libssl3:arm64 libuv1:arm64 zlib1g:arm64 libstdc++6:arm64 libgcc-s1:arm64 libc6:arm64
  node-cjs-module-lexer node-acorn node-undici)
dl=$(mktemp -d)
trap 'rm -rf "$dl"' EXIT
(cd "$dl" && apt-get download "${pkgs[@]}" >/dev/null 2>"$dl/apt.log") ||
  { echo "node-arm64.sh: apt-get download failed:" >&2; grep -v '^W:' "$dl/apt.log" >&2; exit 1; }
mkdir -p "$root.tmp"
for f in "$dl"/*.deb; do dpkg-deb -x "$f" "$root.tmp"; done
mkdir -p "$root.tmp/proc"
for i in 0 1; do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n' "$i"
done >"$root.tmp/proc/cpuinfo"
rm -rf "$root"
mv "$root.tmp" "$root"
echo "$root"
