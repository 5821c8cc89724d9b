# bench/gpu_visit.sh steps: the GPT benchmarks beside PyTorch and DeepSpeed: start-up, the shakespeare_char recipe, GPT-2 at every stage, offload, scale, monitors.
# Sourced by gpu_visit.sh, which defines has, note, ds_setup, $B, $PY, $NGPU, $OUT and $results.
if has startup; then
  # Launch to the end of the first step, GPT-2 1.5B stage 3 on every GPU: the model built on the
  # meta device and initialised by the engine on the GPU, then built and initialised on the host.
  note "start-up: GPT-2 1.5B stage 3, $NGPU GPUs, meta vs host build"
  for on in meta host; do
    timeout 300 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_gpt --model 1.5B --stage 3 --build_on $on --warmup 1 \
      --steps 3 --label "startup_$on" 2>> "$OUT/zs_startup.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
  done
  grep "start-up" "$OUT/zs_startup.err"
fi
if has shakespeare; then
  data=.deps/data/tinyshakespeare.txt
  note "shakespeare_char recipe, 1 GPU (ours), then the same model in PyTorch eager for iteration time"
  CUDA_VISIBLE_DEVICES=0 timeout 900 $B/bin/train_gpt --data $data --n_layer 6 --n_head 6 --n_embd 384 \
    --block_size 256 --batch_size 64 --max_iters 5000 --eval_interval 250 --eval_iters 200 --log_interval 100 \
    --learning_rate 1e-3 --min_lr 1e-4 --beta2 0.99 --warmup_iters 100 --lr_decay_iters 5000 --dropout 0.2 \
    --dtype bfloat16 ${SHAKESPEARE_FLAGS:-} > "$OUT/shakespeare.log" 2>&1
  echo "rc=$?" >> "$OUT/shakespeare.log"
  tail -25 "$OUT/shakespeare.log"
fi
if has shakespeare || has shakespeare_torch; then
  CUDA_VISIBLE_DEVICES=0 timeout 300 torchrun --nproc_per_node 1 bench/torch_gpt.py --model custom --layers 6 \
    --heads 6 --width 384 --vocab 65 --seq 256 --micro 64 --dropout 0.2 --strategy single --warmup 20 --steps 200 \
    2> "$OUT/torch_shakespeare.err" | sed 's/"bench": "torch_single"/"bench": "torch_eager_shakespeare"/' | tee -a "$results"
fi
if has gpt2; then
  # GPT2_MODELS (default 124M 350M 1.5B); GPT2_TORCH_FLAGS go to PyTorch DDP (e.g. --compile),
  # GPT2_ZS_FLAGS to ours (e.g. --cuda_graph).
  note "GPT-2 ${GPT2_MODELS:-124M 350M 1.5B}, seq 1024, micro 8, bf16, $NGPU GPUs: PyTorch DDP vs ZeRO stages 0/1/2 (buckets of 1e7)"
  for model in ${GPT2_MODELS:-124M 350M 1.5B}; do
    timeout 300 torchrun --nproc_per_node "$NGPU" bench/torch_gpt.py --model $model --strategy ddp ${GPT2_TORCH_FLAGS:-} \
      2>> "$OUT/torch_gpt2.err" | tee -a "$results"
    for stage in 0 1 2; do
      timeout 300 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_gpt --model $model --stage $stage ${GPT2_ZS_FLAGS:-} \
        2>> "$OUT/zs_gpt2.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
    done
  done
fi
if has stage3; then
  # STAGE3_MODELS (default 350M 1.5B), STAGE3_RUNS: ours as "reduce_dtype reuse_distance" pairs (default:
  # bf16 and fp32 reduction, units released after each use), STAGE3_REPEAT: FSDP2 + ours this many times.
  note "ZeRO-3 vs PyTorch FSDP2 (fully_shard per block, bf16 params, fp32 reduce), seq 1024, micro 8, $NGPU GPUs"
  IFS=';' read -ra s3runs <<< "${STAGE3_RUNS:-bf16 0;fp32 0}"
  for model in ${STAGE3_MODELS:-350M 1.5B}; do
    for _ in $(seq "${STAGE3_REPEAT:-1}"); do
      timeout 300 torchrun --nproc_per_node "$NGPU" bench/torch_gpt.py --model $model --strategy fsdp2 \
        2>> "$OUT/torch_stage3.err" | tee -a "$results"
      for run in "${s3runs[@]}"; do
        set -- $run
        timeout 300 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_gpt --model $model --stage 3 --comm_dtype "$1" \
          --reuse_distance "$2" --label "" 2>> "$OUT/zs_stage3.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
      done
    done
  done
fi
if has gpt_ds; then
  # DeepSpeed 0.19.8 on the same GPT-2 (bench/torch_gpt.py) through its own script, carried as
  # .deps/deepspeed, then ours on the same cases: GPT_DS_CASES ("stage offload_optimizer
  # offload_param;..."), DS_MODEL (1.5B).
  cases=${GPT_DS_CASES:-"2 none none;3 none none"}
  note "DeepSpeed and ours: GPT-2 ${DS_MODEL:-1.5B}, $NGPU GPUs, cases: $cases"
  if [ -f .deps/deepspeed/ds_visit.sh ]; then
    DS_CASES="$cases" OUT="$OUT/ds" bash .deps/deepspeed/ds_visit.sh > "$OUT/ds_gpt.log" 2>&1
    grep '^{"bench": "deepspeed"' "$OUT/ds_gpt.log" | tee -a "$results"
  else
    note "no .deps/deepspeed carried: DeepSpeed runs skipped"
  fi
  IFS=';' read -ra ds_cases <<< "$cases"
  for c in "${ds_cases[@]}"; do
    set -- $c
    timeout 300 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_gpt --model "${DS_MODEL:-1.5B}" --stage "$1" \
      --offload_optimizer "${2:-none}" --offload_param "${3:-none}" --label "beside DeepSpeed" 2>> "$OUT/zs_gpt_ds.err" \
      | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
  done
fi
if has fsdp2_offload; then
  note "PyTorch FSDP2 + CPUOffloadPolicy, GPT-2 1.5B, $NGPU GPUs"
  timeout 300 torchrun --nproc_per_node "$NGPU" bench/torch_gpt.py --model 1.5B --strategy fsdp2_offload --warmup 1 --steps 3 \
    2>> "$OUT/torch_offload.err" | tee -a "$results"
fi
if has offload; then
  note "CPU Adam (ours, fused SIMD) vs torch's fused CPU AdamW on this host, 16 and 32 threads"
  timeout 240 $B/bin/bench_cpu_adam --numel 200000000 --threads 16,32 --reps 5 > "$OUT/cpu_adam.log" 2>&1
  tail -20 "$OUT/cpu_adam.log"
  note "GPT-2 1.5B with offload, $NGPU GPUs: PyTorch FSDP2 + CPUOffloadPolicy vs ours (stage 2, stage 2 + optimizer offload, stage 3 + optimizer and parameter offload)"
  timeout 300 torchrun --nproc_per_node "$NGPU" bench/torch_gpt.py --model 1.5B --strategy fsdp2_offload --warmup 1 --steps 3 \
    2>> "$OUT/torch_offload.err" | tee -a "$results"
  # stage, offload_optimizer, offload_param, extra flags. NVMe files go under /tmp (the VM's disk).
  mkdir -p /tmp/zs_nvme
  for run in "2 none none" "3 none none" "2 cpu none" "2 cpu none --overlap_step" "3 cpu none" "3 cpu cpu" \
             "2 nvme none" "3 nvme nvme"; do
    set -- $run
    timeout 300 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_gpt --model 1.5B --stage $1 --offload_optimizer $2 \
      --offload_param $3 ${4:-} --nvme_path /tmp/zs_nvme --warmup 2 --steps 5 --label offload 2>> "$OUT/zs_offload.err" \
      | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
  done
fi
if has offload_ratio; then
  # A partial offload (offload_optimizer.ratio, default 0.3 here), GPT-2 1.5B on every GPU: ours at stage 2 with
  # overlap_step and at stage 3 with optimizer offload and with parameter offload too, beside our stage 2 without
  # offload (first and last) and DeepSpeed's stage 3 at the same ratio (bench/ds_ratio.py). A run and DeepSpeed's
  # of the same config share a label; summarize.py pairs them.
  r=${OFFLOAD_RATIO:-0.3}
  note "GPT-2 1.5B, offload_optimizer.ratio $r, $NGPU GPUs: ours vs DeepSpeed, beside our stage 2"
  ratio_gpt() {
    local label=$1; shift
    timeout 300 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_gpt --model 1.5B --warmup 2 --steps 5 --label "$label" "$@" \
      2>> "$OUT/zs_offload_ratio.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
  }
  ratio_gpt "ratio: stage 2, no offload" --stage 2
  ratio_gpt "ratio: stage 2 cpu/none $r, overlap_step" --stage 2 --offload_optimizer cpu --offload_ratio "$r" --overlap_step
  for param in none cpu; do
    ratio_gpt "ratio: stage 3 cpu/$param $r" --stage 3 --offload_optimizer cpu --offload_param $param --offload_ratio "$r"
  done
  if ds_setup; then
    for param in none cpu; do
      DS_RATIO=$r timeout -k 10 400 torchrun --nproc_per_node "$NGPU" bench/ds_ratio.py --torch_gpt bench/torch_gpt.py \
        --model 1.5B --stage 3 --offload_optimizer cpu --offload_param $param --warmup 2 --steps 5 \
        --label "ratio: stage 3 cpu/$param $r" 2>> "$OUT/ds_offload_ratio.err" | grep '^{"bench"' | tee -a "$results"
    done
  fi
  ratio_gpt "ratio: stage 2, no offload (again)" --stage 2
fi
if has scale; then
  # Large GPTs (width 4096, 32 heads), micro 1, activation checkpointing, 10 steps on one fixed
  # batch (the loss must fall). SCALE_RUNS lists "label gpus layers stage offload_optimizer offload_param".
  note "scale runs: ${SCALE_RUNS:-default}"
  runs=${SCALE_RUNS:-"scale-10B 2 50 3 none none;scale-max0 2 40 0 none none;scale-max3 2 80 3 none none"}
  IFS=';' read -ra list <<< "$runs"
  for run in "${list[@]}"; do
    set -- $run
    CUDA_VISIBLE_DEVICES=$(seq -s, 0 $(( $2 - 1 ))) timeout 420 $B/bin/zsrun --num_gpus "$2" $B/bin/bench_gpt \
      --model custom --n_layer "$3" --n_embd 4096 --n_head 32 --stage "$4" --offload_optimizer "$5" --offload_param "$6" \
      --micro 1 --activation_checkpointing --warmup 0 --steps 10 --label "$1" > "$OUT/$1.log" 2>&1
    echo "$1 rc=$?" | tee -a "$OUT/visit.log"
    grep -E "this run|does not fit|step (1|2|10) loss|error|Error" "$OUT/$1.log" | cut -c1-400 | head -8
    sed 's/^\[rank 0\] //' "$OUT/$1.log" | grep '^{' | tee -a "$results"
  done
fi
if has gpt_regress; then
  # The landed code before this session's engine change (ParamGroup), built from a carried source
  # tarball (.deps/old_src.tar), against the current build, alternating, GPT-2 1.5B stages 2 and 3.
  if [ -f .deps/old_src.tar ] && [ ! -x build-old/bin/bench_gpt ]; then
    rm -rf .deps/old_src && mkdir -p .deps/old_src && tar xf .deps/old_src.tar -C .deps/old_src
    mkdir -p .deps/old_src/.deps && cp -r .deps/include .deps/googletest .deps/liburing .deps/old_src/.deps/ 2>/dev/null
    cmake -S .deps/old_src -B build-old -G Ninja -DCMAKE_BUILD_TYPE=Release -DZS_TORCH_ROOT="$TORCH_ROOT" -DZS_CUDA=ON \
      -DZS_BUILD_TESTS=OFF > "$OUT/build_old.log" 2>&1 && cmake --build build-old -j "$(nproc)" --target bench_gpt zsrun >> "$OUT/build_old.log" 2>&1
    note "old build rc=$?"
  fi
  note "GPT-2 1.5B, before (build-old) and after (this build) the one-parameter-group engine, alternating"
  for rep in 1 2; do
    for stage in 2 3; do
      for b in build-old $B; do
        [ -x $b/bin/bench_gpt ] || continue
        timeout 240 $b/bin/zsrun --num_gpus "$NGPU" $b/bin/bench_gpt --model 1.5B --stage $stage --label "$b" \
          2>> "$OUT/zs_regress.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
      done
    done
  done
fi
if has monitors; then
  # GPT-2 ${MONITORS_MODEL:-1.5B} at stage 3 with every monitor on (tensorboard, csv_monitor, JSON lines,
  # wall_clock_breakdown, memory_breakdown, comms_logger, flops_profiler) and off, alternating in this
  # one visit, then what they measured (bench/monitors_summary.py).
  m=${MONITORS_MODEL:-1.5B}
  mon="$OUT/monitors"
  rm -rf "$mon" && mkdir -p "$mon"
  note "monitors: GPT-2 $m stage 3, $NGPU GPUs, every monitor on vs off (alternating, ${MONITORS_ROUNDS:-2} rounds)"
  for round in $(seq "${MONITORS_ROUNDS:-2}"); do
    for mode in off on; do
      args=()
      [ $mode = on ] && args=(--monitors "$mon/run_$round")
      timeout "${MONITORS_TIMEOUT:-420}" $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_gpt --model "$m" --stage 3 \
        --warmup 3 --steps "${MONITORS_STEPS:-12}" --label "monitors $mode" "${args[@]}" > "$mon/${mode}_$round.log" 2>&1
      rc=$?
      sed 's/^\[rank 0\] //' "$mon/${mode}_$round.log" | grep '^{' | tee -a "$results" "$mon/bench.jsonl"
      [ $rc = 0 ] || { note "monitors $mode round $round: rc=$rc (log: $mon/${mode}_$round.log)"; tail -5 "$mon/${mode}_$round.log"; }
    done
  done
  "$PY" bench/monitors_summary.py "$mon" | tee "$OUT/monitors_summary.txt"
fi
