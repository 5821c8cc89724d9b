#!/usr/bin/env bash
# Visit 46 (one H200): the fused Adam's blocks per SM (ZS_ADAM_ONCE=0N), bandwidth, then 1.5B A/B.
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
PY=/opt/torch/.venv/bin/python3
ZS_TARGETS="bench_gpt test_fused_adam_cuda" OUT="$O/b" bash bench/gpu_visit.sh build > "$O/build.txt" 2>&1
[ -x build-gpu/bin/bench_gpt ] || { grep -E "error" -A5 "$O/b/build.log" | head -60; exit 1; }
( cd build-gpu && timeout 100 ./bin/test_fused_adam_cuda --gtest_filter='FusedAdamTiming.BatchBandwidth' 2>&1 ) > "$O/test_fused_adam.log"
grep -E "TB/s|FAILED|PASSED" "$O/test_fused_adam.log"
run() {
  ZS_ADAM_ONCE=$4 CUDA_VISIBLE_DEVICES=0 timeout 100 build-gpu/bin/bench_gpt --model "$2" \
    --stage "$3" --warmup 3 --steps 15 --label "$1" 2>>"$O/bench.err" | grep '^{' | tee -a "$O/ab.jsonl" | "$PY" .ab/line.py
}
for round in 1 2; do
  run s2_base 1.5B 2 0; run s2_per_sm2 1.5B 2 02; run s3_base 1.5B 3 0; run s3_per_sm2 1.5B 3 02
done
