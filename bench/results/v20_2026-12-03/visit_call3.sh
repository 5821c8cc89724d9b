#!/usr/bin/env bash
# Visit 38 (one H200; ran as .ab/visit38.sh, a git-ignored scratch folder; its paths now point here): GPT-2 1.5B, micro 8, clip 1. Stage 3 with optimizer + parameter offload at ratio 0.3, ours and
# DeepSpeed's (same config), beside our stage 2; stage 3 without offload with stage3_max_reuse_distance 0 (our
# published runs) and 1e9 (DeepSpeed's default: a unit gathered in forward stays for backward), alternating.
set -uo pipefail
cd "$(dirname "$0")/../../.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
PY=/opt/torch/.venv/bin/python3; export PATH="$(dirname $PY):$PATH"
B=build-gpu
J="$O/steps.jsonl"; : > "$J"
t_start=$(date +%s)
el() { echo "[$(( $(date +%s) - t_start )) s]"; }
( DS_CASES=" " OUT="$O/ds" bash .deps/deepspeed/ds_visit.sh > "$O/ds_setup.log" 2>&1 ) &
ds_pid=$!
ZS_TARGETS="bench_gpt zsrun" OUT="$O/b" bash bench/gpu_visit.sh build > "$O/build_out.txt" 2>&1
tail -1 "$O/build_out.txt"; echo "$(el) built"
[ -x $B/bin/bench_gpt ] || { grep -E "error" -A5 "$O/b/build.log" | head -60; exit 1; }
ours() {
  local label=$1; shift
  timeout 200 $B/bin/zsrun --num_gpus 1 $B/bin/bench_gpt --model 1.5B --label "$label" "$@" 2>> "$O/ours.err" \
    | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$J" > /dev/null
  echo "$(el) $label"
}
off="--offload_optimizer cpu --offload_param cpu --warmup 2 --steps 5"
ours "s2" --stage 2
ours "s3 cpu/cpu ratio 0.3" --stage 3 $off --offload_ratio 0.3
ours "s3 reuse 0" --stage 3
ours "s3 reuse 1e9" --stage 3 --reuse_distance 1000000000
wait $ds_pid; echo "ds setup rc=$?"
export PYTHONPATH=/tmp/site TORCH_EXTENSIONS_DIR=/tmp/ds_torch_extensions TORCH_CUDA_ARCH_LIST=9.0 DS_SKIP_CUDA_CHECK=1
export OMP_NUM_THREADS=$(nproc)
DS_RATIO=0.3 timeout -k 10 200 torchrun --nproc_per_node 1 bench/ds_ratio.py --torch_gpt bench/torch_gpt.py \
  --model 1.5B --stage 3 --offload_optimizer cpu --offload_param cpu --warmup 2 --steps 5 --label "ds s3 cpu/cpu ratio 0.3" \
  > "$O/ds_s3.log" 2>&1
echo "$(el) ds rc=$?"; grep '^{"bench": "deepspeed"' "$O/ds_s3.log" >> "$J"
grep -E "Error|error" "$O/ds_s3.log" | grep -v INFO | tail -3 | cut -c1-300
unset OMP_NUM_THREADS
ours "s3 cpu/cpu ratio 0.3 (again)" --stage 3 $off --offload_ratio 0.3
ours "s3 reuse 1e9 (again)" --stage 3 --reuse_distance 1000000000
ours "s3 reuse 0 (again)" --stage 3
ours "s2 (again)" --stage 2
echo "$(el) all done"
( cd "$O" && tar czf logs.tgz b build_out.txt *.err *.log ds 2>/dev/null; rm -rf b ds *.err *.log build_out.txt )
echo "==== table"
$PY - "$J" <<'PY'
import json,sys
for line in open(sys.argv[1]):
    try: r=json.loads(line)
    except Exception: continue
    print(f"{r.get('bench','?'):10s} {r.get('label',''):30s} step_ms={r.get('step_ms',0):7.1f} tok/s/gpu={r.get('tok_s_per_gpu',0):6.0f} peak={r.get('peak_gib',0):5.1f} host={float(r.get('host_peak_gib', r.get('host_rss_gib', 0)) or 0):5.1f} first={float(r.get('time_to_first_step_s', r.get('first_step_s', 0)) or 0):5.1f} loss {r.get('first_loss', r.get('loss_first',0)):.3f}->{r.get('final_loss', r.get('loss_last',0)):.3f}")
PY
