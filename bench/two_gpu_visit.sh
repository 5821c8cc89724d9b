#!/usr/bin/env bash
# What issues #15 and #16 still need from two GPUs of one host, as three device calls of under
# 600 s each (call them back to back: a warm machine keeps build-gpu/). Logs under $OUT/callN.
#
#   bash bench/two_gpu_visit.sh 1   launch to first step at 1.5B stage 3; GPT-2 124M graphed beside
#                                   DDP + torch.compile; 1.5B stages 0-2 beside DDP; stage 3 beside FSDP2
#   bash bench/two_gpu_visit.sh 2   DeepSpeed's 1.5B stages 2 and 3; the Llama-2-7B shape beside FSDP2
#   bash bench/two_gpu_visit.sh 3   #15: ZeRO++ (qwZ, qgZ, hpZ) over sockets and NVLink
#   bash bench/two_gpu_visit.sh 4   the GPU tests on two GPUs (the whole build: the two-rank
#                                   equivalence matrix, NCCL probes, the kernel tests)
#
# Carry .deps/include .deps/googletest .deps/liburing .deps/data (scripts/prepare_gpu_carry.sh) and
# .deps/deepspeed (cp -r ../shared/bench/deepspeed .deps/deepspeed).
set -uo pipefail
cd "$(dirname "$0")/.."
call=${1:?which call: 1, 2, 3 or 4}
base=${OUT:-/tmp/zs_out}/call$call
visit() { OUT="$base/$1" bash bench/gpu_visit.sh "${@:2}"; }
export ZS_TARGETS="bench_gpt bench_llama zsrun"
case $call in
  1) visit a build startup
     GPT2_MODELS=124M GPT2_TORCH_FLAGS=--compile GPT2_ZS_FLAGS=--cuda_graph visit b gpt2
     GPT2_MODELS=1.5B visit c gpt2
     STAGE3_MODELS=1.5B visit d stage3 ;;
  2) visit a build
     DS_DEADLINE=300 visit b gpt_ds
     LLAMA_REDUCE=bf16 visit c llama ;;
  3) visit a build zeropp ;;
  4) ZS_TARGETS="" visit a build tests kernels ;;
  *) echo "two_gpu_visit.sh: call 1, 2, 3 or 4, not '$call'" >&2; exit 2 ;;
esac
# One results file and one summary for the call (ratios across its parts: one machine, one call),
# the parts' logs in one archive: the device tool brings back 8 files at most.
cat "$base"/*/results.jsonl > "$base/results.jsonl" 2>/dev/null
PY=python3; [ -x /opt/torch/.venv/bin/python3 ] && PY=/opt/torch/.venv/bin/python3
"$PY" bench/summarize.py "$base/results.jsonl" | tee "$base/summary.md"
( cd "$base" && cat */visit.log > visit.log && tar czf logs.tgz */ && \
    find . -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} + )
