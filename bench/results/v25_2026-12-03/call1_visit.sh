#!/usr/bin/env bash
# Visit 48 (one H200): stage 3's rounding kernel: its tests and timing at 2/4/8/16 blocks an SM, the
# fused Adam tests at the committed 2 blocks an SM, GpuStage3 tests, 1.5B stage 3 A/B against
# ATen's copy (ZS_ROUND_ATEN=1), interleaved; a stage-3 profile.
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
PY=/opt/torch/.venv/bin/python3
t0=$(date +%s)
ZS_TARGETS="bench_gpt test_rounding_cuda test_grad_norm_cuda test_fused_adam_cuda test_gpu_equivalence_cuda train_tiny zsrun" OUT="$O/b" \
  bash bench/gpu_visit.sh build > "$O/build.txt" 2>&1
echo "build $(( $(date +%s) - t0 )) s"; tail -1 "$O/build.txt"
[ -x build-gpu/bin/bench_gpt ] || { grep -E "error" -A5 "$O/b/build.log" | head -60; exit 1; }
( cd build-gpu && timeout 100 ./bin/test_rounding_cuda 2>&1 ) > "$O/test_rounding.log"
echo "rounding tests rc=$?"; grep -E "\[rounding\]|FAILED|PASSED|Failure|Expected" "$O/test_rounding.log" | head -20
for b in 2 4 16; do
  ( cd build-gpu && ZS_ROUND_BLOCKS=$b timeout 60 ./bin/test_rounding_cuda --gtest_filter='RoundingTiming.*' 2>&1 ) |
    grep "\[rounding\]" | sed "s/^/blocks $b: /" | tee -a "$O/test_rounding_blocks.log"
done
( cd build-gpu && timeout 100 ./bin/test_grad_norm_cuda 2>&1 ) > "$O/test_grad_norm.log"
echo "norm tests rc=$?"; grep -E "\[squared norm\]|FAILED|PASSED|Failure|Expected|Which is" "$O/test_grad_norm.log" | head -20
for b in 2 8; do
  ( cd build-gpu && ZS_NORM_BLOCKS=$b timeout 60 ./bin/test_grad_norm_cuda --gtest_filter='SquaredNormTiming.*' 2>&1 ) |
    grep "\[squared norm\]" | sed "s/^/blocks $b: /" | tee -a "$O/test_grad_norm_blocks.log"
done
( cd build-gpu && timeout 150 ./bin/test_fused_adam_cuda 2>&1 ) > "$O/test_fused_adam.log"
echo "fused adam tests rc=$?"; grep -E "TB/s|FAILED|PASSED" "$O/test_fused_adam.log" | tail -6
echo "at $(( $(date +%s) - t0 )) s"
run() {
  ZS_ROUND_ATEN=$3 CUDA_VISIBLE_DEVICES=0 timeout 100 build-gpu/bin/bench_gpt --model 1.5B --stage "$2" \
    --warmup 3 --steps 15 --label "$1" 2>>"$O/bench.err" | grep '^{' | tee -a "$O/ab.jsonl" | "$PY" .ab/line.py
}
for round in 1 2; do
  run s3_aten_copy 3 1; run s3_round_kernel 3 ""
done
echo "at $(( $(date +%s) - t0 )) s"
( cd build-gpu && ZS_COMM_TIMEOUT=60 timeout 150 ./bin/test_gpu_equivalence_cuda --gtest_filter='GpuStage3.*:GpuNvmeOffload.*' 2>&1 ) > "$O/gpu_tests.log"
echo "gpu tests rc=$?"; grep -E "OK \]|FAILED|PASSED|Failure" "$O/gpu_tests.log" | head -20
echo "at $(( $(date +%s) - t0 )) s"
CUDA_VISIBLE_DEVICES=0 timeout 100 build-gpu/bin/bench_gpt --model 1.5B --stage 3 --warmup 3 --steps 5 --label s3_profile \
  --profile "$O/trace_s3.json" 2>>"$O/bench.err" | grep '^{' >> "$O/ab.jsonl"
GAPS=10 TOP_KERNELS=30 "$PY" bench/trace_summary.py "$O/trace_s3.json" > "$O/profile_s3.txt" 2>&1
head -16 "$O/profile_s3.txt"
gzip -f "$O/trace_s3.json"
echo "end at $(( $(date +%s) - t0 )) s"
