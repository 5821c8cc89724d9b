#!/usr/bin/env bash
# Visit 39 (one H200; ran as .ab/visit39.sh, a git-ignored scratch folder, with .ab/old = `git archive 0c0c8de`):
# the StateStore refactor and NVMe in the background, A/B against 0c0c8de (the commit before) in one call:
# GPU offload tests, GPT-2 124M with the state on NVMe, GPT-2 1.5B offload configs, Llama-2-7B, old and new interleaved.
set -uo pipefail
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
PY=/opt/torch/.venv/bin/python3; export PATH="$(dirname $PY):$PATH"
J="$O/steps.jsonl"; : > "$J"
t_start=$(date +%s)
el() { echo "[$(( $(date +%s) - t_start )) s]"; }
# One call: the old tree builds outside the repository (a carried .ab replaces what was built in it).
rm -rf /tmp/zs_old && cp -r .ab/old /tmp/zs_old && ln -sfn "$PWD/.deps" /tmp/zs_old/.deps
( cd /tmp/zs_old && ZS_TARGETS="bench_gpt bench_llama" OUT="$O/bold" bash bench/gpu_visit.sh build > "$O/build_old.txt" 2>&1 ) &
old_pid=$!
ZS_TARGETS="bench_gpt bench_llama test_gpu_equivalence_cuda train_tiny train_tiny_llama" \
  OUT="$O/bnew" bash bench/gpu_visit.sh build > "$O/build_new.txt" 2>&1
wait $old_pid
tail -1 "$O/build_new.txt"; tail -1 "$O/build_old.txt"; echo "$(el) built"
[ -x build-gpu/bin/bench_gpt ] || { grep -E "error" -A5 "$O/bnew/build.log" | head -60; exit 1; }
[ -x /tmp/zs_old/build-gpu/bin/bench_gpt ] || { grep -E "error" -A5 "$O/bold/build.log" | head -60; exit 1; }
( cd build-gpu && ZS_COMM_TIMEOUT=60 timeout 240 ./bin/test_gpu_equivalence_cuda \
    --gtest_filter='GpuOffloadRatio.*:GpuSuperOffload.*:GpuStage3.*' 2>&1 ) > "$O/gpu_tests.log"
echo "gpu tests rc=$?"; grep -E "FAILED|PASSED" "$O/gpu_tests.log" | head -5
run() {  # which(old|new) model label args...
  local which=$1 model=$2 label=$3; shift 3
  local bin=build-gpu/bin/bench_gpt; [ "$which" = old ] && bin=/tmp/zs_old/build-gpu/bin/bench_gpt
  CUDA_VISIBLE_DEVICES=0 timeout 150 $bin --model $model --warmup 3 --steps 8 --label "$which: $label" "$@" \
    2>> "$O/runs.err" | tee "$O/last.txt" | grep '^{' >> "$J"
  echo "$(el) $which $label $(grep -o '"step_ms":[0-9.]*' "$O/last.txt")"
}
mkdir -p /tmp/nvme_ab
for w in old new new old; do run $w 124M "124M s3 nvme" --micro 16 --stage 3 --offload_optimizer nvme --nvme_path /tmp/nvme_ab; done
for rep in 1 2; do
  for w in old new; do run $w 1.5B "s3 cpu/cpu r0.3" --micro 8 --stage 3 --offload_optimizer cpu --offload_param cpu --offload_ratio 0.3; done
  for w in new old; do run $w 1.5B "s2 overlap r0.3" --micro 8 --stage 2 --offload_optimizer cpu --overlap_step --offload_ratio 0.3; done
  for w in old new; do run $w 1.5B "s3 cpu/none r1" --micro 8 --stage 3 --offload_optimizer cpu; done
done
for w in old new; do
  bin=build-gpu/bin/bench_llama; [ "$w" = old ] && bin=/tmp/zs_old/build-gpu/bin/bench_llama
  CUDA_VISIBLE_DEVICES=0 timeout 200 $bin --model llama2-7b --stage 3 --activation_checkpointing \
    --offload_optimizer cpu --offload_param cpu --offload_ratio 0.3 --warmup 2 --steps 6 --label "$w: 7B cpu/cpu r0.3" \
    2>> "$O/runs.err" | tee "$O/last.txt" | grep '^{' >> "$J"
  echo "$(el) $w 7B $(grep -o '"step_ms":[0-9.]*' "$O/last.txt")"
done
echo "$(el) all done"
( cd "$O" && tar czf logs.tgz bnew bold build_*.txt *.err *.log 2>/dev/null; rm -rf bnew bold build_*.txt *.err last.txt )
echo "==== table"
$PY - "$J" <<'PY'
import json,sys
for line in open(sys.argv[1]):
    try: r=json.loads(line)
    except Exception: continue
    print(f"{r.get('label',''):28s} step_ms={r.get('step_ms',0):8.1f} tok/s/gpu={r.get('tok_s_per_gpu',0):7.0f} peak={r.get('peak_gib',0):5.1f} loss {r.get('first_loss', r.get('loss_first',0)):.3f}->{r.get('final_loss', r.get('loss_last',0)):.3f}")
PY
