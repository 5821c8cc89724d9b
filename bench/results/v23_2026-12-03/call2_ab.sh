#!/usr/bin/env bash
# A/B on the built tree: ZS_LT_BIAS_GRAD and ZS_ROUND_ASIDE at GPT-2 1.5B, interleaved.
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
if [ ! -x build-gpu/bin/bench_gpt ]; then
  ZS_TARGETS="bench_gpt" OUT="$O/b" bash bench/gpu_visit.sh build > "$O/build.txt" 2>&1
fi
run() {
  ZS_LT_BIAS_GRAD=$3 ZS_ROUND_ASIDE=$4 CUDA_VISIBLE_DEVICES=0 timeout 150 build-gpu/bin/bench_gpt --model 1.5B \
    --stage "$2" --warmup 3 --steps 15 --label "$1" 2>>"$O/bench.err" | grep '^{' >> "$O/ab.jsonl"
  tail -1 "$O/ab.jsonl" | grep -o '"label":"[^"]*"\|"step_ms":[0-9.]*\|"tok_s_per_gpu":[0-9]*' | tr '\n' ' '; echo
}
for round in 1 2; do
  run s2_before 2 0 0; run s2_lt 2 1 0
  run s3_before 3 0 0; run s3_aside 3 0 1
done
