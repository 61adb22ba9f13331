#!/usr/bin/env bash
# Builds the Debian package of wakewordd for one architecture.
#
#   packaging/build-deb.sh ARCH [OUTDIR]     ARCH: amd64 or arm64; OUTDIR: default bin/
#
# The binary comes from the Makefile (make build, or make build-arm64 with the Debian cross
# toolchain), built as a PIE with the package version in `wakewordd version`; the tree is
# staged by hand and packed with dpkg-deb. Writes OUTDIR/wakewordd_VERSION_ARCH.deb and
# prints its path.
#
# Version: WAKEWORDD_VERSION if set, else from `git describe --tags`: tag v1.2.3 -> 1.2.3,
# 4 commits after it -> 1.2.3+git4.gHASH, no tag -> 0.0~gitYYYYMMDD.HASH (commit date),
# +dirty for uncommitted changes; without git, the file VERSION. The Debian revision is -1.
# Maintainer: DEBFULLNAME <DEBEMAIL> if set, else the author of the last commit.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

arch=${1:-}
out=${2:-bin}
case "$arch" in
  amd64) target=build; bin=wakewordd; strip=strip; goarch=amd64 ;;
  arm64) target=build-arm64; bin=wakewordd-linux-arm64; strip=aarch64-linux-gnu-strip; goarch=arm64 ;;
  *) echo "usage: packaging/build-deb.sh amd64|arm64 [OUTDIR]" >&2; exit 2 ;;
esac
scripts/setup.sh package $([ "$arch" = arm64 ] && echo cross)

# --- version and dates -------------------------------------------------------------------
upstream=$(scripts/version.sh)  # the same version `make build` stamps
hash=$(git rev-parse --short HEAD 2>/dev/null || true)
dirty=""
[ -z "$hash" ] || git diff --quiet HEAD 2>/dev/null || dirty=+dirty
if [ "$upstream" = dev ]; then
  echo "build-deb.sh: no version: not a git checkout, no VERSION file, WAKEWORDD_VERSION unset" >&2
  exit 1
fi
version="$upstream-1"
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || { echo "build-deb.sh: bad Debian version '$version'" >&2; exit 1; }
# Timestamps in the package (file dates, changelog) are the last commit's: the same
# commit gives the same .deb.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
maintainer="${DEBFULLNAME:-}${DEBEMAIL:+ <$DEBEMAIL>}"
[ -n "${DEBEMAIL:-}" ] || maintainer=$(git log -1 --format='%an <%ae>' 2>/dev/null || true)
[[ "$maintainer" == *'<'*'@'*'>' ]] || { echo "build-deb.sh: set DEBFULLNAME and DEBEMAIL (no git author to use)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 022

# --- the binary -------------------------------------------------------------------------
# GOFLAGS reaches the go command inside the Makefile's recipe: a PIE without build paths.
# The C parts (the PortAudio binding) get Debian's hardening flags (fortify, stack
# protector, relro, bindnow) from dpkg-buildflags, for the target architecture.
flags() { DEB_HOST_ARCH=$arch DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get "$1"; }
CGO_CFLAGS=$(flags CFLAGS) CGO_CPPFLAGS=$(flags CPPFLAGS) CGO_LDFLAGS=$(flags LDFLAGS) \
GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath -buildmode=pie -ldflags=-X=main.version=$version" \
  make --no-print-directory "$target" BIN="$work/build" >&2

# --- the tree ---------------------------------------------------------------------------
root=$work/root
doc=$root/usr/share/doc/wakewordd
install -D -m 0755 "$work/build/$bin" "$root/usr/bin/wakewordd"
"$strip" --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/wakewordd"
install -D -m 0644 packaging/wakewordd.service "$root/lib/systemd/system/wakewordd.service"
install -D -m 0644 packaging/sysusers.d/wakewordd.conf "$root/usr/lib/sysusers.d/wakewordd.conf"
install -D -m 0644 configs/wakewordd.yaml "$root/etc/wakewordd/config.yaml"
install -D -m 0644 models/kwt.safetensors "$root/usr/share/wakewordd/models/kwt.safetensors"
install -D -m 0644 models/kwt-stream.safetensors "$root/usr/share/wakewordd/models/kwt-stream.safetensors"
install -d -m 0755 "$root/usr/share/man/man8" "$doc"
gzip -9n <packaging/wakewordd.8 >"$root/usr/share/man/man8/wakewordd.8.gz"
gzip -9n <packaging/README.md >"$doc/README.md.gz"
gzip -9n <models/MODEL.md >"$doc/MODEL.md.gz"
install -D -m 0644 packaging/lintian-overrides "$root/usr/share/lintian/overrides/wakewordd"

# changelog.Debian: one entry for this build, dated by its commit.
{
  echo "wakewordd ($version) unstable; urgency=medium"
  echo
  if [ -n "${hash:-}" ]; then
    echo "  * Built from commit $hash${dirty:+ with uncommitted changes}."
  else
    echo "  * Built from wakewordd $upstream."
  fi
  echo
  echo " -- $maintainer  $(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.Debian.gz"

# copyright: ours, then every Go module compiled into the binary with its licence text.
{
  cat packaging/debian/copyright
  gomod() { CGO_ENABLED=1 GOOS=linux GOARCH=$goarch go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' ./cmd/wakewordd | sort -u; }
  printf '\nThe Go standard library (%s):\n\n' "$(go env GOVERSION)"
  sed 's/^/  /; s/^  $/ ./' "$(go env GOROOT)/LICENSE"
  gomod | while read -r path ver dir; do
    lic=$(ls "$dir" | grep -m1 -iE '^(un)?(licen[cs]e|copying)(\.md|\.txt)?$' || true)
    [ -n "$lic" ] || { echo "build-deb.sh: Go module $path has no licence file in $dir" >&2; exit 1; }
    printf '\n%s %s:\n\n' "$path" "$ver"
    if grep -q 'Apache License' "$dir/$lic" && grep -q 'Version 2\.0' "$dir/$lic"; then
      # Debian policy: refer to the copy every system has instead of repeating it.
      echo "  Licensed under the Apache License, Version 2.0. On Debian systems, the full"
      echo "  text is in /usr/share/common-licenses/Apache-2.0."
      [ ! -f "$dir/NOTICE" ] || { echo " ."; sed 's/^/  /; s/^  $/ ./' "$dir/NOTICE"; }
    else
      sed 's/^/  /; s/^  $/ ./' "$dir/$lic"
    fi
  done
} >"$doc/copyright"
chmod 0644 "$doc"/*

# --- control ----------------------------------------------------------------------------
mkdir -p "$root/DEBIAN" "$work/src/debian"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
echo /etc/wakewordd/config.yaml >"$root/DEBIAN/conffiles"
(cd "$root" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
# Shared-library dependencies: dpkg-shlibdeps wants a debian/control beside it; for arm64
# it reads the arm64 libraries that the cross build linked against.
printf 'Source: wakewordd\n\nPackage: wakewordd\nArchitecture: any\n' >"$work/src/debian/control"
shlibs=$(cd "$work/src" && DEB_HOST_ARCH=$arch dpkg-shlibdeps -O --warnings=0 -e"$root/usr/bin/wakewordd" | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "build-deb.sh: dpkg-shlibdeps found no libraries" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: wakewordd
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $shlibs, systemd | systemd-sysusers
Suggests: mosquitto
Section: sound
Priority: optional
Homepage: https://github.com/wakewordd/wakewordd
Description: always-on wake-word daemon for Raspberry Pi-class boards
 wakewordd listens to a microphone through PortAudio, computes MFCC frames as
 the audio streams in and runs a Keyword Transformer whose attention is
 delta-pruned (only significant changes between consecutive tokens are
 computed), with NEON kernels on arm64. It reports the wake words it hears
 over MQTT, with Home Assistant discovery and Rhasspy/Hermes hotword topics.
 .
 The package ships the project's keyword model (its model card is in
 /usr/share/doc/wakewordd) and a hardened systemd service with a watchdog,
 running as the system user wakewordd.
EOF

# --- pack -------------------------------------------------------------------------------
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$out"
deb="$out/wakewordd_${version}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
echo "$deb"
