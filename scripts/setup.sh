#!/usr/bin/env bash
# Installs what a fresh machine is missing, then configures and builds ZeroShard.
#   - Debian packages (compiler, CMake, Ninja, OpenMPI, nlohmann-json, CLI11, GoogleTest, liburing,
#     sentencepiece, stb)
#   - LibTorch 2.11.0: an existing one is used when found (ZS_TORCH_ROOT, or an importable torch);
#     otherwise the torch==2.11.0 wheel from PyPI is unpacked into .deps/libtorch (git-ignored); the
#     wheel stays in .deps/wheels for the Hugging Face tests' Python environment (scripts/hf_venv.sh).
# Usage: scripts/setup.sh [build-dir]      (env: ZS_CUDA=ON|OFF|AUTO, ZS_BUILD_TYPE=Release)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cd "$root"
log() { echo "[setup] $*"; }

# ---- Debian packages -------------------------------------------------------------------------
need=()
for pkg in g++ cmake ninja-build libopenmpi-dev openmpi-bin nlohmann-json3-dev libcli11-dev libgtest-dev zlib1g-dev liburing-dev libsentencepiece-dev libstb-dev unzip python3-pip python3-venv; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    log "installing Debian packages: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  else
    log "warning: missing ${need[*]} and no apt-get here; continuing with what is installed"
  fi
fi

# ---- LibTorch 2.11.0 --------------------------------------------------------------------------
torch_root=${ZS_TORCH_ROOT:-}
if [ -z "$torch_root" ] && python3 -c 'import torch,sys; sys.exit(0 if torch.__version__.startswith("2.11.0") else 1)' 2>/dev/null; then
  torch_root=$(python3 -c 'import torch,os; print(os.path.dirname(torch.__file__))')
  log "using the installed torch at $torch_root"
fi
if [ -z "$torch_root" ]; then
  torch_root=$root/.deps/libtorch
  if [ ! -f "$torch_root/.complete" ]; then
    log "fetching torch==2.11.0 from PyPI (one time, ~530 MB) into .deps/"
    mkdir -p "$root/.deps/wheels"
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$root/.deps/wheels" torch==2.11.0
    rm -rf "$torch_root.tmp"; mkdir -p "$torch_root.tmp"
    # Only the CPU libraries and headers: the CUDA libraries are useless without their runtime wheels.
    unzip -q -o "$root"/.deps/wheels/torch-2.11.0-*.whl 'torch/include/*' 'torch/share/*' \
      'torch/lib/libc10.so' 'torch/lib/libtorch_cpu.so' 'torch/lib/libtorch.so' \
      'torch/lib/libgomp.so.1' 'torch/lib/libtorch_global_deps.so' -d "$torch_root.tmp"
    rm -rf "$torch_root"; mv "$torch_root.tmp/torch" "$torch_root"; rm -rf "$torch_root.tmp"
    touch "$torch_root/.complete"
  fi
  # libtorch_cpu.so links the CUDA runtime and CUPTI (they are loaded, never used, on a CPU machine).
  for lib in libcudart.so.13:nvidia-cuda-runtime libcupti.so.13:nvidia-cuda-cupti; do
    so=${lib%%:*}; wheel=${lib##*:}
    if ! ldconfig -p | grep -q "$so" && [ ! -e "$torch_root/lib/$so" ]; then
      log "fetching $wheel (provides $so)"
      python3 -m pip download -q --no-deps --only-binary=:all: -d "$root/.deps/wheels" "$wheel==13.0.*"
      unzip -q -o -j "$root"/.deps/wheels/${wheel//-/_}-*.whl "*/$so" -d "$torch_root/lib"
    fi
  done
fi

# ---- Configure and build -----------------------------------------------------------------------
log "configuring in $build (LibTorch: $torch_root)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${ZS_BUILD_TYPE:-Release}" \
  -DZS_TORCH_ROOT="$torch_root" -DZS_CUDA="${ZS_CUDA:-AUTO}" >/dev/null
jobs=${ZS_JOBS:-$(nproc)}
log "building with $jobs jobs"
cmake --build "$build" -j "$jobs"
log "build ready in $build"
