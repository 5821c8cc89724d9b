#!/usr/bin/env bash
# Visit 44 (one H200): c_attn's q/k/v split read in place by the linear's backward (ZS_SPLIT_LINEAR)
# against autograd's split+cat, in one build, interleaved, at GPT-2 1.5B stages 2 and 3 and 124M;
# the kernel tests; the GPU equivalence tests; a stage-2 profile with it on.
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
PY=/opt/torch/.venv/bin/python3
ZS_TARGETS="bench_gpt test_norm_bias_cuda test_gpu_equivalence_cuda train_tiny zsrun train_gpt" OUT="$O/b" \
  bash bench/gpu_visit.sh build > "$O/build.txt" 2>&1
tail -1 "$O/build.txt"
[ -x build-gpu/bin/bench_gpt ] || { grep -E "error" -A5 "$O/b/build.log" | head -60; exit 1; }
( cd build-gpu && timeout 200 ./bin/test_norm_bias_cuda 2>&1 ) > "$O/test_norm_bias.log"
echo "norm bias tests rc=$?"; grep -E "split in 3|FAILED|PASSED|Failure|Expected" "$O/test_norm_bias.log" | head -30
# run LABEL MODEL STAGE SPLIT: one bench_gpt run.
run() {
  ZS_SPLIT_LINEAR=$4 CUDA_VISIBLE_DEVICES=0 timeout 150 build-gpu/bin/bench_gpt --model "$2" \
    --stage "$3" --warmup 3 --steps 15 --label "$1" 2>>"$O/bench.err" | grep '^{' | tee -a "$O/ab.jsonl" | "$PY" .ab/line.py
}
for round in 1 2; do
  run s2_cat 1.5B 2 0; run s2_split 1.5B 2 1
  run s3_cat 1.5B 3 0; run s3_split 1.5B 3 1
done
run 124M_cat 124M 2 0; run 124M_split 124M 2 1; run 124M_cat 124M 2 0; run 124M_split 124M 2 1
( cd build-gpu && ZS_COMM_TIMEOUT=60 timeout 240 ./bin/test_gpu_equivalence_cuda 2>&1 ) > "$O/gpu_tests.log"
echo "gpu tests rc=$?"; grep -E "FAILED|PASSED|Failure" "$O/gpu_tests.log" | head -20
CUDA_VISIBLE_DEVICES=0 timeout 150 build-gpu/bin/bench_gpt --model 1.5B --stage 2 --warmup 3 --steps 5 --label s2_profile \
  --profile "$O/trace_s2.json" 2>>"$O/bench.err" | grep '^{' >> "$O/ab.jsonl"
GAPS=10 TOP_KERNELS=30 "$PY" bench/trace_summary.py "$O/trace_s2.json" > "$O/profile_s2.txt" 2>&1
head -45 "$O/profile_s2.txt"
gzip -f "$O/trace_s2.json"
