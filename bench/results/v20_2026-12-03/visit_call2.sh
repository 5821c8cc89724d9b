#!/usr/bin/env bash
# Visit 37, second call (one H200; ran as .ab/visit37b.sh, a git-ignored scratch folder; its paths now point here):
# Llama-2-7B shape (seq 2048, micro 4, activation checkpointing, stage 3, one GPU) with optimizer offload only at
# ratio 0.3, ours (twice) and DeepSpeed 0.19.8; ours with optimizer + parameter offload at 0.3 again; ours without offload.
set -uo pipefail
cd "$(dirname "$0")/../../.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
PY=/opt/torch/.venv/bin/python3; export PATH="$(dirname $PY):$PATH"
B=build-gpu
J="$O/steps.jsonl"; : > "$J"
t_start=$(date +%s)
el() { echo "[$(( $(date +%s) - t_start )) s]"; }
free -g | head -2; nproc
( DS_CASES=" " OUT="$O/ds" bash .deps/deepspeed/ds_visit.sh > "$O/ds_setup.log" 2>&1 ) &
ds_pid=$!
ZS_TARGETS="bench_llama" \
  OUT="$O/b" bash bench/gpu_visit.sh build > "$O/build_out.txt" 2>&1
tail -1 "$O/build_out.txt"; echo "$(el) built"
[ -x $B/bin/bench_llama ] || { grep -E "error" -A5 "$O/b/build.log" | head -60; exit 1; }
ours() {
  local label=$1; shift
  CUDA_VISIBLE_DEVICES=0 timeout 150 $B/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing \
    --offload_optimizer cpu --warmup 2 --steps 6 --label "$label" "$@" 2>> "$O/ours.err" | tee "$O/ours_last.txt" \
    | grep '^{' >> "$J"
  echo "$(el) $label"; grep -E "ratio:|step [0-9]+ " "$O/ours_last.txt" | cut -c1-250 | tail -9
}
ours "7B cpu/none ratio 0.3" --offload_ratio 0.3
wait $ds_pid; echo "ds setup rc=$?"
export PYTHONPATH=/tmp/site TORCH_EXTENSIONS_DIR=/tmp/ds_torch_extensions TORCH_CUDA_ARCH_LIST=9.0 DS_SKIP_CUDA_CHECK=1
CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=$(nproc) timeout -k 10 260 torchrun --nproc_per_node 1 bench/llama_reference.py \
  --strategy deepspeed --offload --offload_param none --offload_ratio 0.3 --warmup 2 --steps 6 --label "ds 7B cpu/none ratio 0.3" > "$O/ds_llama.log" 2>&1
echo "$(el) ds rc=$?"; grep '^{"bench"' "$O/ds_llama.log" >> "$J"
grep -E "Error|error|Killed" "$O/ds_llama.log" | grep -v INFO | tail -3 | cut -c1-300
ours "7B cpu/cpu ratio 0.3 (again)" --offload_param cpu --offload_ratio 0.3
ours "7B cpu/none ratio 0.3 (again)" --offload_ratio 0.3
CUDA_VISIBLE_DEVICES=0 timeout 150 $B/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing \
  --warmup 2 --steps 6 --label "7B no offload" 2>> "$O/ours.err" | grep '^{' >> "$J"
echo "$(el) no offload"
echo "$(el) all done"
( cd "$O" && tar czf logs.tgz b build_out.txt *.err *.log *.txt ds 2>/dev/null; rm -rf b ds *.err *.log build_out.txt ours_last.txt )
echo "==== table"
$PY - "$J" <<'PY'
import json,sys
for line in open(sys.argv[1]):
    try: r=json.loads(line)
    except Exception: continue
    print(f"{r.get('bench','?'):16s} {r.get('label',''):30s} step_ms={r.get('step_ms',0):7.1f} tok/s/gpu={r.get('tok_s_per_gpu',0):6.0f} peak={r.get('peak_gib',0):5.1f} host={float(r.get('host_peak_gib', r.get('host_rss_gib', 0)) or 0):5.1f} first={float(r.get('time_to_first_step_s', r.get('first_step_s', 0)) or 0):5.1f} loss {r.get('first_loss', r.get('loss_first',0)):.3f}->{r.get('final_loss', r.get('loss_last',0)):.3f}")
PY
