#!/usr/bin/env bash
# Prints wakewordd's upstream version, which packaging/build-deb.sh makes the package's (without the
# Debian revision): WAKEWORDD_VERSION if set, else from `git describe --tags`: tag v1.2.3 ->
# 1.2.3, 4 commits after it -> 1.2.3+git4.gHASH, no tag -> 0.0~gitYYYYMMDD.HASH (commit
# date), +dirty for uncommitted changes; without git, the file VERSION; else "dev".
# The Makefile and scripts/demo.sh pass it to the linker as main.version.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${WAKEWORDD_VERSION:-}" ]; then
  upstream=$WAKEWORDD_VERSION
elif hash=$(git rev-parse --short HEAD 2>/dev/null); then
  dirty=""
  git diff --quiet HEAD 2>/dev/null || dirty=+dirty
  desc=$(git describe --tags 2>/dev/null || true)
  if [[ "$desc" =~ ^v?([0-9][0-9A-Za-z.+~]*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
    upstream="${BASH_REMATCH[1]}+git${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}"
  elif [[ "$desc" =~ ^v?([0-9][0-9A-Za-z.+~]*)$ ]]; then
    upstream="${BASH_REMATCH[1]}"
  else
    upstream="0.0~git$(TZ=UTC git log -1 --date=format-local:%Y%m%d --format=%cd).$hash"
  fi
  upstream+=$dirty
elif [ -f VERSION ]; then
  upstream=$(tr -d ' \n' <VERSION)
else
  upstream=dev
fi
echo "$upstream"
