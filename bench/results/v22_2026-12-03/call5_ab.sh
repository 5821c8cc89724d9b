#!/usr/bin/env bash
# A/B: d27b7dd (.ab/old) against the working tree, Llama-2-7B ratio 0.3 optimizer + parameter offload, interleaved.
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
rm -rf /tmp/zs_old && cp -r .ab/old /tmp/zs_old && ln -sfn "$PWD/.deps" /tmp/zs_old/.deps
( cd /tmp/zs_old && ZS_TARGETS="bench_llama" OUT=/tmp/bold bash bench/gpu_visit.sh build 2>&1 | tail -1 )
[ -x /tmp/zs_old/build-gpu/bin/bench_llama ] || exit 1
for w in old new old new; do
  b=build-gpu/bin/bench_llama; [ $w = old ] && b=/tmp/zs_old/build-gpu/bin/bench_llama
  echo "$w $(CUDA_VISIBLE_DEVICES=0 timeout 150 $b --model llama2-7b --stage 3 --activation_checkpointing --offload_optimizer cpu \
    --offload_param cpu --offload_ratio 0.3 --warmup 2 --steps 6 --label $w 2>/dev/null | grep -o '"step_ms":[0-9.]*')"
done
