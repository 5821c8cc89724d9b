#!/usr/bin/env bash
# Visit 22 (one H200): attention kept for the recompute; one rank's gradients staged in place; LayerNorm on our kernels without autograd.
set -uo pipefail
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
PY=/opt/torch/.venv/bin/python3; export PATH="$(dirname $PY):$PATH"
B=build-gpu
J="$O/steps.jsonl"; : > "$J"
t_start=$(date +%s)
el() { echo "[$(( $(date +%s) - t_start )) s]"; }
ZS_TARGETS="zsrun bench_llama bench_gpt test_gpu_equivalence_cuda test_norm_bias_cuda test_llama_rope_cuda test_swiglu_cuda train_tiny train_tiny_llama" \
  OUT="$O/b" bash bench/gpu_visit.sh build > "$O/build_out.txt" 2>&1
tail -2 "$O/build_out.txt"; echo "$(el) built"
[ -x $B/bin/bench_llama ] || { grep -E "error" -A5 "$O/b/build.log" | head -60; exit 1; }

for t in test_norm_bias_cuda test_llama_rope_cuda test_swiglu_cuda; do
  ( cd $B && timeout 120 ./bin/$t 2>&1 ) > "$O/$t.log"; echo "$t rc=$?"; grep -E "PASSED|FAILED" "$O/$t.log" | tail -5
done
( cd $B && ZS_COMM_TIMEOUT=60 timeout 300 ./bin/test_gpu_equivalence_cuda --gtest_filter='GpuActivationCheckpoint.*:GpuStage3.*:GpuSuperOffload.*' 2>&1 ) > "$O/gpu_tests.log"
echo "gpu tests rc=$?"; grep -E "\[gpu|FAILED|PASSED|diff" "$O/gpu_tests.log" | head -20
echo "$(el) tests done"

llama() {  # env settings, label, extra args
  local envs=$1 label=$2; shift 2
  env $envs CUDA_VISIBLE_DEVICES=0 timeout 240 $B/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing \
    --label "$label" "$@" 2>> "$O/llama.err" | grep '^{' | tee -a "$J" > /dev/null
}
gpt() {
  local envs=$1 label=$2; shift 2
  env $envs CUDA_VISIBLE_DEVICES=0 timeout 200 $B/bin/bench_gpt --model 1.5B --stage 2 --label "$label" "$@" 2>> "$O/gpt.err" | grep '^{' | tee -a "$J" > /dev/null
}
llama "ZS_X=1" "new"
llama "ZS_KEEP_ATTENTION=0" "attention recomputed"
llama "ZS_X=1" "new"
llama "ZS_KEEP_ATTENTION=0" "attention recomputed"
echo "$(el) llama A/B done"
CUDA_VISIBLE_DEVICES=0 timeout 300 torchrun --nproc_per_node 1 bench/llama_reference.py --strategy fsdp2 2>> "$O/torch_llama.err" | tee -a "$J" > /dev/null
echo "$(el) fsdp2 done"
gpt "ZS_X=1" "1.5B no ckpt"
gpt "ZS_X=1" "1.5B ckpt" --activation_checkpointing
gpt "ZS_KEEP_ATTENTION=0" "1.5B ckpt attention recomputed" --activation_checkpointing
echo "$(el) gpt done"
llama "ZS_X=1" "new, traced" --warmup 2 --steps 2 --profile "$O/trace_llama.json"
BY_OP=30 $PY bench/trace_summary.py "$O/trace_llama.json" > "$O/llama_profile_by_op.txt" 2>&1
rm -f "$O/trace_llama.json"
grep -E "GPU span|Memcpy|_cudnn_attention_forward" "$O/llama_profile_by_op.txt" | head -8
echo "$(el) all done"
( cd "$O" && tar czf logs.tgz b build_out.txt *.err *.log 2>/dev/null; rm -rf b *.err *.log build_out.txt )
echo "==== table"
$PY - "$J" <<'PY'
import json,sys
for line in open(sys.argv[1]):
    try: r=json.loads(line)
    except Exception: continue
    print(f"{r.get('bench','?'):22s} {r.get('label',''):32s} step_ms={r.get('step_ms',0):.1f} tok/s/gpu={r.get('tok_s_per_gpu',0):.0f} mfu={r.get('mfu',0):.3f} peak={r.get('peak_gib',0):.1f} loss {r.get('first_loss',0):.3f}->{r.get('final_loss',0):.4f}")
PY
