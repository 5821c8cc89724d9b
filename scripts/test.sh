#!/usr/bin/env bash
# The README's second command. Installs what is missing, builds, and runs every test: unit tests
# and multi-process tests that start real ranks through zsrun with real MPI collectives.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" "$root/build"
cd "$root/build"
ctest --output-on-failure -j "${ZS_TEST_JOBS:-2}" --timeout 900
