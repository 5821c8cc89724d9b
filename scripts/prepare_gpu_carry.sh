#!/usr/bin/env bash
# Copies what a GPU-machine build needs but that machine lacks into git-ignored .deps/ folders,
# to be named in the device tool's `carry`: header-only libraries, GoogleTest's sources, liburing
# (header and static library: NVMe offload links it statically), and the shakespeare text for the recipe run (from ../shared; it is never committed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/.deps/include" "$root/.deps/data"
cp -r /usr/include/nlohmann /usr/include/CLI /usr/include/stb "$root/.deps/include/"
rm -rf "$root/.deps/googletest" && cp -r /usr/src/googletest "$root/.deps/googletest"
rm -rf "$root/.deps/liburing" && mkdir -p "$root/.deps/liburing/include" "$root/.deps/liburing/lib"
cp -r /usr/include/liburing.h /usr/include/liburing "$root/.deps/liburing/include/"
cp /usr/lib/x86_64-linux-gnu/liburing.a "$root/.deps/liburing/lib/"
[ -f "$root/../shared/data/tinyshakespeare.txt" ] && cp "$root/../shared/data/tinyshakespeare.txt" "$root/.deps/data/"
du -sh "$root/.deps/include" "$root/.deps/googletest" "$root/.deps/liburing" "$root/.deps/data"
