#!/usr/bin/env bash
# Visit 49 (one H200): the grad-norm kernel test in its committed form; GPT-2 1.5B on one GPU, ours
# beside PyTorch DDP, FSDP2 and DeepSpeed's stages 2 and 3, in one call (v18 call 4's order).
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O" /tmp/logs
PY=/opt/torch/.venv/bin/python3
export PATH="/opt/torch/.venv/bin:$PATH"
T0=$(date +%s)
at() { echo "-- at $(( $(date +%s) - T0 )) s: $*"; }
ZS_TARGETS="bench_gpt zsrun test_grad_norm_cuda" OUT=/tmp/b bash bench/gpu_visit.sh build > /tmp/logs/build.txt 2>&1
at build; [ -x build-gpu/bin/bench_gpt ] || { grep -E "error" -A5 /tmp/b/build.log | head -60; exit 1; }
( cd build-gpu && timeout 100 ./bin/test_grad_norm_cuda 2>&1 ) > "$O/test_grad_norm.log"
echo "norm tests rc=$?"; grep -E "\[squared norm\]|FAILED|PASSED" "$O/test_grad_norm.log"
R="$O/side_by_side.jsonl"
ours() {
  timeout 120 build-gpu/bin/zsrun --num_gpus 1 build-gpu/bin/bench_gpt --model 1.5B --stage "$1" --label "ours_s$1" \
    2>>/tmp/logs/ours.err | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$R" | "$PY" .ab/line.py
}
torch_run() {
  timeout 150 torchrun --nproc_per_node 1 bench/torch_gpt.py --model 1.5B --strategy "$1" 2>>/tmp/logs/torch.err |
    grep '^{' | tee -a "$R" | "$PY" .ab/line.py
}
ours 2; torch_run ddp; ours 2; at "ddp"
ours 3; torch_run fsdp2; ours 3; at "fsdp2"
left=$(( 600 - ($(date +%s) - T0) - 60 ))
DS_CASES="2 none none;3 none none" DS_DEADLINE=$left OUT=/tmp/ds bash .deps/deepspeed/ds_visit.sh > /tmp/logs/ds.log 2>&1
grep '^{"bench": "deepspeed"' /tmp/logs/ds.log | tee -a "$R" | "$PY" .ab/line.py; at deepspeed
grep -E "^==" /tmp/logs/ds.log | tail -8
if [ $(( $(date +%s) - T0 )) -lt 540 ]; then ours 2; ours 3; fi
at end
cp -r /tmp/ds /tmp/logs/ 2>/dev/null; tar czf "$O/logs.tgz" -C /tmp logs
