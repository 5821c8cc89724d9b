#!/usr/bin/env bash
# Makes the Python environment of the Hugging Face interchange tests, the CNN reference tests (and of
# scripts/prepare_tokens.py): .deps/hfvenv (git-ignored) with torch 2.11.0 (CPU use), transformers,
# safetensors, tokenizers, numpy, and torchvision 0.26.0 with pillow. Idempotent: does nothing when
# the environment is complete.
#
# torch comes from the wheel scripts/setup.sh keeps in .deps/wheels, installed without its
# dependency list: of the NVIDIA runtime wheels it names, only three are needed for `import torch`
# on a machine whose CUDA 13 toolkit provides the others (the CI image and the dev machines).
# torchvision 0.26.0 is the release paired with torch 2.11.0, also installed without its dependency
# list (which would pull another torch). It is added on top of a complete base environment with a
# stamp of its own (.complete-vision), so a checkout whose script predates it finds the base stamp
# unchanged and keeps the environment instead of rebuilding it.
#
# Usage: scripts/hf_venv.sh            prints the environment's python on its last line
# Env:   ZS_HF_VENV (default .deps/hfvenv)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/.deps/wheels"
deps=$(cd "$root/.deps" && pwd -P)        # .deps may be a link shared by several checkouts
venv=${ZS_HF_VENV:-$deps/hfvenv}
wheels=$deps/wheels
packages=(transformers==5.17.0 safetensors numpy tokenizers sympy filelock typing-extensions jinja2 fsspec networkx)
nvidia=(nvidia-cusparselt-cu13==0.8.0 nvidia-nvshmem-cu13==3.4.5 "nvidia-cufile==1.15.*")
stamp="torch==2.11.0 ${nvidia[*]} ${packages[*]}"
vision=(torchvision==0.26.0 pillow)
vision_stamp="${vision[*]}"
log() { echo "[hf_venv] $*" >&2; }

base_complete() { [ -f "$venv/.complete" ] && [ "$(cat "$venv/.complete")" = "$stamp" ]; }
vision_complete() { [ -f "$venv/.complete-vision" ] && [ "$(cat "$venv/.complete-vision")" = "$vision_stamp" ]; }
complete() { base_complete && vision_complete; }
if complete; then echo "$venv/bin/python"; exit 0; fi

# One checkout at a time (tests of several checkouts may start together).
exec 9>"$deps/hfvenv.lock"
flock 9
if complete; then echo "$venv/bin/python"; exit 0; fi

# pip's output goes to a log (it lists the CUDA wheels torch names but this environment leaves out
# on purpose); shown when something fails.
pip_log="$deps/hfvenv.pip.log"
pip_install() {
  "$venv/bin/python" -m pip install --disable-pip-version-check "$@" >>"$pip_log" 2>&1 ||
    { cat "$pip_log" >&2; log "pip install failed (log: $pip_log)"; exit 1; }
}
add_vision() {
  log "adding ${vision[*]} to $venv"
  : >"$pip_log"
  pip_install --no-deps "${vision[@]}"
  "$venv/bin/python" -c "import torchvision, PIL" ||
    { log "the environment does not import torchvision"; exit 1; }
  echo "$vision_stamp" > "$venv/.complete-vision"
}
if base_complete; then
  add_vision
  echo "$venv/bin/python"
  exit 0
fi

log "making $venv (one time, from PyPI)"
if ! ls "$wheels"/torch-2.11.0-*.whl >/dev/null 2>&1; then
  log "fetching the torch==2.11.0 wheel into $wheels"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$wheels" torch==2.11.0
fi
for spec in "${nvidia[@]}"; do
  name=${spec%%==*}
  ls "$wheels"/"${name//-/_}"-*.whl >/dev/null 2>&1 ||
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$wheels" "$spec"
done
rm -rf "$venv"
python3 -m venv "$venv"
: >"$pip_log"
pip_install --no-deps "$wheels"/torch-2.11.0-*.whl "$wheels"/nvidia_cusparselt_cu13-*.whl \
  "$wheels"/nvidia_nvshmem_cu13-*.whl "$wheels"/nvidia_cufile-*.whl
pip_install "${packages[@]}"
"$venv/bin/python" -c "import torch, transformers, safetensors, tokenizers, numpy" ||
  { log "the environment does not import torch and transformers"; exit 1; }
echo "$stamp" > "$venv/.complete"
add_vision
log "ready: $("$venv/bin/python" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')"
echo "$venv/bin/python"
