#!/usr/bin/env bash
# Visit 33 (one H200): offload_optimizer.ratio (a partial offload) — GPU test, ours at ratios 1 / 0.5 / 0.3 at stages 2
# and 3 beside DeepSpeed's stage-3 offload at ratios 1 and 0.3 (its Twin-Flow) and our stage 2 without offload.
# Call 3 ran it as .ab/visit33.sh (a git-ignored scratch folder); its paths now point here.
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
ZS_TARGETS="bench_gpt zsrun test_gpu_equivalence_cuda train_tiny train_tiny_llama" \
  OUT="$O/b" bash bench/gpu_visit.sh build > "$O/build_out.txt" 2>&1
tail -1 "$O/build_out.txt"; echo "$(el) built"
[ -x $B/bin/bench_gpt ] || { grep -E "error" -A5 "$O/b/build.log" | head -60; exit 1; }
( cd $B && ZS_COMM_TIMEOUT=60 timeout 300 ./bin/test_gpu_equivalence_cuda --gtest_filter='GpuOffloadRatio.*:GpuSuperOffload.*:GpuStage3.*:GpuOffloadEquivalence*' 2>&1 ) > "$O/gpu_tests.log"
echo "gpu tests rc=$?"; grep -E "\[gpu|^  cpu|FAILED|PASSED|OK \]" "$O/gpu_tests.log" | head -30
wait $ds_pid; echo "ds setup rc=$?"
echo "$(el) tests done"
ours() {
  local label=$1; shift
  timeout 200 $B/bin/zsrun --num_gpus 1 $B/bin/bench_gpt --model 1.5B --label "$label" "$@" 2>> "$O/ours.err" \
    | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$J" > /dev/null
  echo "$(el) $label"
}
off="--offload_optimizer cpu --warmup 2 --steps 5"
ours "s2" --stage 2
for r in 1 0.5 0.3; do ours "s2 offload ratio $r" --stage 2 $off --offload_ratio $r; done
ours "s2 offload overlap_step ratio 0.3" --stage 2 $off --overlap_step --offload_ratio 0.3
for r in 1 0.5 0.3; do ours "s3 offload ratio $r" --stage 3 $off --offload_ratio $r; done
# DeepSpeed: stage 3 with optimizer offload at ratio 1 and 0.3, stage 2 at ratio 1.
export PYTHONPATH=/tmp/site TORCH_EXTENSIONS_DIR=/tmp/ds_torch_extensions TORCH_CUDA_ARCH_LIST=9.0 DS_SKIP_CUDA_CHECK=1
export OMP_NUM_THREADS=$(nproc)
ds() {
  local ratio=$1 stage=$2
  DS_RATIO=$ratio timeout -k 10 150 torchrun --nproc_per_node 1 bench/ds_ratio.py --torch_gpt bench/torch_gpt.py --model 1.5B \
    --stage $stage --offload_optimizer cpu --warmup 2 --steps 5 --label "ds s$stage ratio $ratio" > "$O/ds_s${stage}_$ratio.log" 2>&1
  echo "$(el) ds s$stage ratio $ratio rc=$?"; grep '^{"bench": "deepspeed"' "$O/ds_s${stage}_$ratio.log" >> "$J"
  grep -E "Error|error" "$O/ds_s${stage}_$ratio.log" | grep -v INFO | tail -3 | cut -c1-300
}
ds 1 3
ds 0.3 3
ds 1 2
ours "s3 offload ratio 0.3 (again)" --stage 3 $off --offload_ratio 0.3
ours "s2 offload ratio 0.3 (again)" --stage 2 $off --offload_ratio 0.3
echo "$(el) all done"
( cd "$O" && tar czf logs.tgz b build_out.txt *.err *.log ds 2>/dev/null; rm -rf b ds *.err *.log build_out.txt )
echo "==== table"
$PY - "$J" <<'PY'
import json,sys
for line in open(sys.argv[1]):
    try: r=json.loads(line)
    except Exception: continue
    print(f"{r.get('bench','?'):10s} {r.get('label',''):36s} step_ms={r.get('step_ms',0):7.1f} tok/s/gpu={r.get('tok_s_per_gpu',0):6.0f} peak={r.get('peak_gib',0):5.1f} host={float(r.get('host_peak_gib', r.get('host_rss_gib', 0)) or 0):5.1f} first={float(r.get('time_to_first_step_s', r.get('first_step_s', 0)) or 0):5.1f} loss {r.get('first_loss', r.get('loss_first',0)):.3f}->{r.get('final_loss', r.get('loss_last',0)):.3f}")
PY
