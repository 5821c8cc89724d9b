#!/usr/bin/env bash
# Visit 18 (one H200): the recompute that leaves each layer's unread result out.
#  1. build; GPU tests (new GpuActivationCheckpoint, GpuStage3, norm_bias kernels: the Linear changed)
#  2. Llama-2-7B shape stage 3 + checkpointing, ZS_RECOMPUTE_UNREAD=1 / 0 alternating (x2), FSDP2 beside
#  3. GPT-2 1.5B stage 2 + checkpointing, 1 / 0; GPT-2 1.5B stage 2 without checkpointing (unchanged path)
#  4. one traced Llama run with the new code (trace summary)
set -uo pipefail
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
PY=/opt/torch/.venv/bin/python3; export PATH="$(dirname $PY):$PATH"
B=build-gpu
J="$O/steps.jsonl"; : > "$J"
t_start=$(date +%s)
el() { echo "[$(( $(date +%s) - t_start )) s]"; }
ZS_TARGETS="zsrun bench_llama bench_gpt test_gpu_equivalence_cuda test_norm_bias_cuda train_tiny train_tiny_llama" \
  OUT="$O/b" bash bench/gpu_visit.sh build > "$O/build_out.txt" 2>&1
tail -3 "$O/build_out.txt"; echo "$(el) built"
[ -x $B/bin/bench_llama ] || { tail -50 "$O/b/build.log"; exit 1; }

( cd $B && ZS_COMM_TIMEOUT=60 timeout 300 ./bin/test_gpu_equivalence_cuda --gtest_filter='GpuActivationCheckpoint.*:GpuStage3.*' 2>&1 ) > "$O/gpu_tests.log"
echo "gpu tests rc=$?"; grep -E "\[gpu|OK \]|FAILED|PASSED" "$O/gpu_tests.log" | head -20
( cd $B && timeout 120 ./bin/test_norm_bias_cuda 2>&1 ) > "$O/norm_bias.log"; echo "norm_bias rc=$?"; grep -E "PASSED|FAILED" "$O/norm_bias.log" | tail -3
echo "$(el) tests done"

llama() {  # $1: ZS_RECOMPUTE_UNREAD, $2 label, extra args
  local u=$1 label=$2; shift 2
  ZS_RECOMPUTE_UNREAD=$u CUDA_VISIBLE_DEVICES=0 timeout 240 $B/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing \
    --label "$label" "$@" 2>> "$O/llama.err" | grep '^{' | tee -a "$J"
}
gpt() {
  local u=$1 label=$2; shift 2
  ZS_RECOMPUTE_UNREAD=$u CUDA_VISIBLE_DEVICES=0 timeout 200 $B/bin/bench_gpt --model 1.5B --stage 2 --label "$label" "$@" 2>> "$O/gpt.err" | grep '^{' | tee -a "$J"
}
llama 1 "unread skipped A"
llama 0 "full recompute A"
llama 1 "unread skipped B"
llama 0 "full recompute B"
echo "$(el) llama A/B done"
CUDA_VISIBLE_DEVICES=0 timeout 300 torchrun --nproc_per_node 1 bench/llama_reference.py --strategy fsdp2 2>> "$O/torch_llama.err" | tee -a "$J"
echo "$(el) fsdp2 done"
gpt 1 "1.5B ckpt unread skipped" --activation_checkpointing
gpt 0 "1.5B ckpt full recompute" --activation_checkpointing
gpt 1 "1.5B no ckpt"
echo "$(el) gpt done"
if [ $(( $(date +%s) - t_start )) -lt 420 ]; then
  llama 1 "traced" --warmup 2 --steps 2 --profile "$O/trace_llama.json"
  $PY bench/trace_summary.py "$O/trace_llama.json" > "$O/llama_profile_summary.txt" 2>&1
  BY_OP=25 $PY bench/trace_summary.py "$O/trace_llama.json" > "$O/llama_profile_by_op.txt" 2>&1
  rm -f "$O/trace_llama.json"
fi
echo "$(el) all done"
( cd "$O" && tar czf logs.tgz b build_out.txt *.err *.log 2>/dev/null; rm -rf b *.err *.log build_out.txt )
echo "==== table"
$PY - "$J" <<'PY'
import json,sys
for line in open(sys.argv[1]):
    try: r=json.loads(line)
    except Exception: continue
    print(f"{r.get('bench','?'):22s} {r.get('label',''):28s} step_ms={r.get('step_ms','?'):.1f} tok/s/gpu={r.get('tok_s_per_gpu',0):.0f} mfu={r.get('mfu',0):.3f} peak={r.get('peak_gib',0):.1f}")
PY
