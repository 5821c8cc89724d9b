#!/usr/bin/env bash
# Makes the Python environment of the monitor tests and tools: .deps/monitorvenv (git-ignored) with
# TensorBoard (its own event-file reader checks our event files) and matplotlib (scripts/plot_runs.py).
# Idempotent: does nothing when the environment is complete.
#
# Usage: scripts/monitor_venv.sh       prints the environment's python on its last line
# Env:   ZS_MONITOR_VENV (default .deps/monitorvenv)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/.deps"
deps=$(cd "$root/.deps" && pwd -P)        # .deps may be a link shared by several checkouts
venv=${ZS_MONITOR_VENV:-$deps/monitorvenv}
packages=(tensorboard matplotlib)
stamp="${packages[*]}"
log() { echo "[monitor_venv] $*" >&2; }

complete() { [ -f "$venv/.complete" ] && [ "$(cat "$venv/.complete")" = "$stamp" ]; }
if complete; then echo "$venv/bin/python"; exit 0; fi

# One checkout at a time (tests of several checkouts may start together).
exec 9>"$deps/monitorvenv.lock"
flock 9
if complete; then echo "$venv/bin/python"; exit 0; fi

log "making $venv (one time, from PyPI)"
rm -rf "$venv"
python3 -m venv "$venv"
pip_log="$deps/monitorvenv.pip.log"
"$venv/bin/python" -m pip install --disable-pip-version-check "${packages[@]}" >"$pip_log" 2>&1 ||
  { cat "$pip_log" >&2; log "pip install failed (log: $pip_log)"; exit 1; }
"$venv/bin/python" -c "import tensorboard, matplotlib" ||
  { log "the environment does not import tensorboard and matplotlib"; exit 1; }
echo "$stamp" > "$venv/.complete"
log "ready: $("$venv/bin/python" -c 'import tensorboard, matplotlib; print("tensorboard", tensorboard.__version__, "matplotlib", matplotlib.__version__)')"
echo "$venv/bin/python"
