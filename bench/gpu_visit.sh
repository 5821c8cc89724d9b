#!/usr/bin/env bash
# One visit to the lent GPU machine: build with its own LibTorch/CUDA/NCCL, run the GPU tests,
# then the benchmarks side by side with PyTorch on the same GPUs, and print a table last.
#
#   bench/gpu_visit.sh [build] [tests] [shakespeare] [shakespeare_torch] [gpt2] [stage3] [probe3] [offload] [scale]
#     [multinode] [gpt_regress] [llama] [llama_ds] [llama_profile] [llama_offload] [llama_super_offload] [llama_load] [monitors] [images]
#     [cnn_logits] [cnn] [cnn_ds] [cnn_train] [kernels] [llama_offload_profile] [llama_offload_tune] [offload_ratio] [llama_offload_ratio] [llama_offload_ratio_ds] [zeropp] [small] [startup] [ce_ab] [graphs] [big_ab] [ln_ab]   (default: build tests shakespeare gpt2;
#   shakespeare_torch is the PyTorch half of shakespeare alone, llama_ds the DeepSpeed half of llama,
#   llama_offload_ratio_ds that of llama_offload_ratio (RATIO_DS_PARAM: its offload_param values, default "none cpu");
#   SHAKESPEARE_FLAGS adds train_gpt flags to the recipe, e.g. --cuda_graph=True; OFFLOAD_RATIO sets the
#   offload_optimizer.ratio of offload_ratio and llama_offload_ratio, default 0.3)
#
# ZS_TARGETS="bench_llama zsrun ..." builds only those targets (default: everything); a step needs
# the programs it runs among them (zsrun for every multi-GPU step, bench_gpt, train_gpt, tests...).
# Needs .deps/include (nlohmann, CLI11), .deps/googletest and .deps/liburing carried
# along: scripts/prepare_gpu_carry.sh makes them. Logs and JSON results go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export OUT=${OUT:-/tmp/zs_out}
mkdir -p "$OUT"
steps=${*:-build tests shakespeare gpt2}
PY=$(command -v python3)
[ -x /opt/torch/.venv/bin/python3 ] && PY=/opt/torch/.venv/bin/python3
export PATH="$(dirname "$PY"):$PATH"
TORCH_ROOT=$("$PY" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
NGPU=$(nvidia-smi -L | wc -l)
B=build-gpu
results="$OUT/results.jsonl"
: > "$results"
note() { echo "== $*" | tee -a "$OUT/visit.log"; }
# DeepSpeed 0.19.8 from the carried wheels (.deps/deepspeed, a copy of ../shared/bench/deepspeed):
# installed and its ops JIT-built once per visit by its own script, run with no cases.
ds_setup() {
  [ -f .deps/deepspeed/ds_visit.sh ] || { note "no .deps/deepspeed carried: DeepSpeed runs skipped"; return 1; }
  if [ ! -f /tmp/site/.ds_stamp ]; then DS_CASES=" " OUT="$OUT/ds" bash .deps/deepspeed/ds_visit.sh > "$OUT/ds_setup.log" 2>&1; fi
  export PYTHONPATH=/tmp/site TORCH_EXTENSIONS_DIR=/tmp/ds_torch_extensions TORCH_CUDA_ARCH_LIST=9.0 DS_SKIP_CUDA_CHECK=1
  export OMP_NUM_THREADS=$(( $(nproc) / NGPU ))
  [ -f /tmp/site/.ds_stamp ]
}
has() { [[ " $steps " == *" $1 "* ]]; }

note "GPUs: $NGPU ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)); torch at $TORCH_ROOT"
# The steps, a file per family (bench/visit/); each runs when named on the command line.
for family in build_tests gpt_probes gpt llama cnn multinode; do
  source "bench/visit/$family.sh"
done

note "summary"
"$PY" bench/summarize.py "$results" "$OUT/shakespeare.log" | tee "$OUT/summary.md"

# The device tool brings back 8 files at most (16 MiB each): every log in one archive, beside the
# summary, the JSON results and the visit log; traces stay out of the archive if it grows too big.
( cd "$OUT" && tar czf /tmp/visit_logs.tgz --exclude=logs.tgz . \
    && { [ "$(stat -c %s /tmp/visit_logs.tgz)" -lt 15000000 ] || tar czf /tmp/visit_logs.tgz --exclude=logs.tgz --exclude='trace_*' .; } \
    && find . -mindepth 1 -maxdepth 1 ! -name summary.md ! -name results.jsonl ! -name visit.log -exec rm -rf {} + \
    && mv /tmp/visit_logs.tgz logs.tgz )
