#!/usr/bin/env bash
# Copies what a GPU-machine build needs but that machine lacks into git-ignored .deps/ folders,
# to be named in the device tool's `carry`: header-only libraries, GoogleTest's sources, and the
# shakespeare text for the recipe run (from ../shared; it is never committed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/.deps/include" "$root/.deps/data"
cp -r /usr/include/nlohmann /usr/include/CLI "$root/.deps/include/"
rm -rf "$root/.deps/googletest" && cp -r /usr/src/googletest "$root/.deps/googletest"
[ -f "$root/../shared/data/tinyshakespeare.txt" ] && cp "$root/../shared/data/tinyshakespeare.txt" "$root/.deps/data/"
du -sh "$root/.deps/include" "$root/.deps/googletest" "$root/.deps/data"
