#!/usr/bin/env bash
# Visit 40 (one H200): the StateStore clean-up (behaviour unchanged) and the new GPU NVMe test;
# GPT-2 124M with the state on NVMe at stage 2 (step first vs overlap_step) and stage 3.
set -uo pipefail
cd "$(dirname "$0")/../../.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
PY=/opt/torch/.venv/bin/python3; export PATH="$(dirname $PY):$PATH"
J="$O/steps.jsonl"; : > "$J"
t_start=$(date +%s)
el() { echo "[$(( $(date +%s) - t_start )) s]"; }
ZS_TARGETS="bench_gpt test_gpu_equivalence_cuda train_tiny zsrun" OUT="$O/b" bash bench/gpu_visit.sh build > "$O/build.txt" 2>&1
tail -1 "$O/build.txt"; echo "$(el) built"
[ -x build-gpu/bin/test_gpu_equivalence_cuda ] || { grep -E "error" -A5 "$O/b/build.log" | head -60; exit 1; }
( cd build-gpu && ZS_COMM_TIMEOUT=60 timeout 300 ./bin/test_gpu_equivalence_cuda \
    --gtest_filter='GpuNvmeOffload.*:GpuOffloadRatio.*:GpuSuperOffload.*:GpuStage3.*:GpuActivationCheckpoint.*' 2>&1 ) > "$O/gpu_tests.log"
echo "$(el) gpu tests rc=$?"; grep -E "\[gpu |OK \]|FAILED|PASSED" "$O/gpu_tests.log" | head -30
run() {  # label args...
  local label=$1; shift
  CUDA_VISIBLE_DEVICES=0 timeout 150 build-gpu/bin/bench_gpt --warmup 3 --steps 8 --label "$label" "$@" \
    2>> "$O/runs.err" | tee "$O/last.txt" | grep '^{' >> "$J"
  echo "$(el) $label $(grep -o '"step_ms":[0-9.]*' "$O/last.txt")"
}
mkdir -p /tmp/nvme40
for rep in 1 2; do
  run "124M s2 nvme" --model 124M --micro 16 --stage 2 --offload_optimizer nvme --nvme_path /tmp/nvme40
  run "124M s2 nvme overlap_step" --model 124M --micro 16 --stage 2 --offload_optimizer nvme --nvme_path /tmp/nvme40 --overlap_step
  run "124M s3 nvme" --model 124M --micro 16 --stage 3 --offload_optimizer nvme --nvme_path /tmp/nvme40
  run "124M s2 cpu" --model 124M --micro 16 --stage 2 --offload_optimizer cpu
done
"$PY" - "$J" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    r = json.loads(line); best[r["label"]] = min(best.get(r["label"], 1e18), r["step_ms"])
print("| run | best ms/step |\n|---|---|")
for k, v in best.items(): print(f"| {k} | {v:.1f} |")
PY
