#!/usr/bin/env bash
# Visit 43 (one H200): the weight-and-bias-gradient GEMM (ZS_LT_BIAS_GRAD) and stage 3's rounding
# aside (ZS_ROUND_ASIDE) at GPT-2 1.5B, each against its switch off in the same build, interleaved;
# their kernel tests; a stage-3 profile with the gaps.
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
PY=/opt/torch/.venv/bin/python3
ZS_TARGETS="bench_gpt test_norm_bias_cuda test_gpu_equivalence_cuda train_tiny zsrun train_gpt" OUT="$O/b" \
  bash bench/gpu_visit.sh build > "$O/build.txt" 2>&1
tail -1 "$O/build.txt"
[ -x build-gpu/bin/bench_gpt ] || { grep -E "error" -A5 "$O/b/build.log" | head -60; exit 1; }
( cd build-gpu && timeout 200 ./bin/test_norm_bias_cuda 2>&1 ) > "$O/test_norm_bias.log"
echo "norm bias tests rc=$?"; grep -E "one GEMM|weight gradient GEMM|FAILED|PASSED|Failure|Expected" "$O/test_norm_bias.log" | head -30
# run LABEL STAGE LT ASIDE: one bench_gpt run, its line kept and summarised.
run() {
  ZS_LT_BIAS_GRAD=$3 ZS_ROUND_ASIDE=$4 CUDA_VISIBLE_DEVICES=0 timeout 150 build-gpu/bin/bench_gpt --model 1.5B \
    --stage "$2" --warmup 3 --steps 15 --label "$1" 2>>"$O/bench.err" | grep '^{' | tee -a "$O/ab.jsonl" |
    "$PY" -c 'import json,sys
for l in sys.stdin:
    r = json.loads(l)
    print(f"{r[\"label\"]:24s} stage {r[\"stage\"]} {r[\"step_ms\"]:8.2f} ms {r[\"tok_s_per_gpu\"]:9.0f} tok/s peak {r[\"peak_gib\"]:.1f} GiB")'
}
for round in 1 2; do
  run s2_before 2 0 0; run s2_lt 2 1 0
  run s3_before 3 0 0; run s3_lt 3 1 0; run s3_lt_aside 3 1 1
done
( cd build-gpu && ZS_COMM_TIMEOUT=60 timeout 150 ./bin/test_gpu_equivalence_cuda --gtest_filter='GpuStage3.*:GpuNvmeOffload.*' 2>&1 ) > "$O/gpu_tests.log"
echo "gpu tests rc=$?"; grep -E "OK \]|FAILED|PASSED|Failure" "$O/gpu_tests.log" | head -20
CUDA_VISIBLE_DEVICES=0 timeout 150 build-gpu/bin/bench_gpt --model 1.5B --stage 3 --warmup 3 --steps 5 --label s3_profile \
  --profile "$O/trace_s3.json" 2>>"$O/bench.err" | grep '^{' >> "$O/ab.jsonl"
GAPS=10 TOP_KERNELS=30 "$PY" bench/trace_summary.py "$O/trace_s3.json" > "$O/profile_s3.txt" 2>&1
head -40 "$O/profile_s3.txt"; grep -A24 "compute gaps" "$O/profile_s3.txt"
gzip -f "$O/trace_s3.json"
