# bench/gpu_visit.sh steps: GPT kernel and step A/B probes and profiles.
# Sourced by gpu_visit.sh, which defines has, note, ds_setup, $B, $PY, $NGPU, $OUT and $results.
if has profile; then
  # Two traced steps of GPT-2 ${PROFILE_MODEL:-1.5B} each way, and where the GPU time goes.
  m=${PROFILE_MODEL:-1.5B}
  note "profile: GPT-2 $m, ZeRO-${PROFILE_STAGE:-3} vs FSDP2, $NGPU GPUs"
  timeout 300 torchrun --nproc_per_node "$NGPU" bench/torch_gpt.py --model "$m" --strategy fsdp2 \
    --profile "$OUT/trace_fsdp2.json" 2>> "$OUT/torch_profile.err" | tee -a "$results"
  timeout 300 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_gpt --model "$m" --stage "${PROFILE_STAGE:-3}" \
    --profile "$OUT/trace_ours.json" 2>> "$OUT/zs_profile.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
  if [ "$NGPU" = 1 ]; then
    # One GPU: the same model at stage 0 and PyTorch single-GPU eager and compiled, for the ratios.
    $B/bin/bench_gpt --model "$m" --stage 0 2>> "$OUT/zs_profile.err" | grep '^{' | tee -a "$results"
    for c in "" --compile; do
      timeout 300 torchrun --nproc_per_node 1 bench/torch_gpt.py --model "$m" --strategy single $c \
        2>> "$OUT/torch_profile.err" | tee -a "$results"
    done
  fi
  "$PY" bench/trace_summary.py "$OUT/trace_ours.json" "$OUT/trace_fsdp2.json" | tee "$OUT/profile_summary.txt"
  gzip -f "$OUT"/trace_*.json
fi
if has probe3; then
  # Tiny stage-3 runs with a short collective timeout; a run still going after 60 s gets its
  # threads' stacks printed (cuda-gdb attaches to the ranks) and is killed.
  note "stage-3 probe: tiny GPT, 1 and $NGPU GPUs, with and without activation checkpointing"
  for n in 1 "$NGPU"; do
    for ac in "" --activation_checkpointing; do
      log="$OUT/probe3_${n}gpu${ac:+_ac}.log"
      ZS_COMM_TIMEOUT=40 ZS_TRACE_UNITS=${ZS_TRACE_UNITS:-1} $B/bin/zsrun --num_gpus "$n" $B/bin/train_gpt --device cuda \
        --zero_stage 3 --n_layer 2 --n_head 2 --n_embd 64 --block_size 64 --batch_size 4 --max_iters 6 \
        --eval_interval 3 --eval_iters 2 --log_interval 1 --sample_tokens 20 $ac > "$log" 2>&1 &
      pid=$!
      for _ in $(seq 60); do kill -0 $pid 2>/dev/null || break; sleep 1; done
      if kill -0 $pid 2>/dev/null; then
        echo "probe $n GPU(s) $ac: still running after 60 s; stacks:" | tee -a "$log"
        for p in $(pgrep -f "bin/train_gpt"); do
          timeout 60 cuda-gdb -p "$p" -batch -ex "thread apply all bt" >> "$OUT/probe3_stacks_${n}gpu${ac:+_ac}.txt" 2>&1
        done
        pkill -9 -f "bin/train_gpt"; kill -9 $pid 2>/dev/null
      fi
      wait $pid; echo "probe $n GPU(s) $ac: rc=$?" | tee -a "$log"
      grep -v "unit trace" "$log" | tail -4
      grep "unit trace" "$log" | tail -6
    done
  done
fi
if has small; then
  # The small models on ONE GPU, where launch overhead and memory-bound kernels rule: the
  # shakespeare_char shape (6L/6H/384d, vocab 65, block 256, batch 64, dropout 0.2) and GPT-2 124M,
  # ours at stage 0 vs PyTorch eager and torch.compile'd, then a traced run of ours.
  note "small models, 1 GPU: ours vs PyTorch eager and torch.compile"
  tiny="--n_layer 6 --n_head 6 --n_embd 384 --vocab 65 --dropout 0.2 --micro 64 --seq 256"
  tiny_torch="--model custom --layers 6 --heads 6 --width 384 --vocab 65 --dropout 0.2 --micro 64 --seq 256"
  for c in "" --compile; do
    CUDA_VISIBLE_DEVICES=0 timeout 300 torchrun --nproc_per_node 1 bench/torch_gpt.py $tiny_torch --strategy single \
      --warmup 10 --steps 50 $c 2>> "$OUT/torch_small.err" | tee -a "$results"
    CUDA_VISIBLE_DEVICES=0 timeout 300 torchrun --nproc_per_node 1 bench/torch_gpt.py --model 124M --strategy single \
      $c 2>> "$OUT/torch_small.err" | tee -a "$results"
  done
  CUDA_VISIBLE_DEVICES=0 timeout 300 $B/bin/bench_gpt --model custom $tiny --stage 0 --warmup 10 --steps 50 \
    --label shakespeare_char --profile "$OUT/trace_small.json" 2>> "$OUT/zs_small.err" | grep '^{' | tee -a "$results"
  CUDA_VISIBLE_DEVICES=0 timeout 300 $B/bin/bench_gpt --model 124M --stage 0 2>> "$OUT/zs_small.err" | grep '^{' | tee -a "$results"
  "$PY" bench/trace_summary.py "$OUT/trace_small.json" | tee "$OUT/small_profile_summary.txt"
  gzip -f "$OUT"/trace_small.json
fi
if has graphs; then
  # --cuda_graph: its GPU test (graphed training = eager training), then the small models on ONE GPU:
  # ours graphed with our column-sum gradients on and off (ZS_FUSED_NORM_BIAS), alternating, ours
  # eager, and PyTorch eager and torch.compile'd, all in this call.
  note "CUDA graphs: test, then small models on 1 GPU, ours graphed (norm/bias sums on/off), eager, PyTorch eager/compiled"
  ( cd $B && timeout 300 ./bin/test_graphed_loss_cuda 2>&1 ) > "$OUT/test_graphed_loss_cuda.log"
  echo "test_graphed_loss_cuda rc=$?" | tee -a "$OUT/gpu_tests.log"
  grep -E "PASSED|FAILED|tests ran|stage [0-9], accumulation" "$OUT/test_graphed_loss_cuda.log" | tail -20
  tiny="--n_layer 6 --n_head 6 --n_embd 384 --vocab 65 --dropout 0.2 --micro 64 --seq 256"
  tiny_torch="--model custom --layers 6 --heads 6 --width 384 --vocab 65 --dropout 0.2 --micro 64 --seq 256"
  small_run() {  # label, then bench_gpt flags
    local label=$1; shift
    CUDA_VISIBLE_DEVICES=0 timeout 300 $B/bin/bench_gpt "$@" --stage 0 --label "$label" 2>> "$OUT/zs_graphs.err" \
      | grep '^{' | tee -a "$results"
  }
  for _ in 1 2; do
    for nb in 0 1; do
      ZS_FUSED_NORM_BIAS=$nb small_run "shakespeare_char graphed norm_bias=$nb" --model custom $tiny --warmup 10 --steps 50 --cuda_graph
      ZS_FUSED_NORM_BIAS=$nb small_run "124M graphed norm_bias=$nb" --model 124M --cuda_graph
    done
  done
  small_run "shakespeare_char eager" --model custom $tiny --warmup 10 --steps 50
  small_run "124M eager" --model 124M
  for c in "" --compile; do
    CUDA_VISIBLE_DEVICES=0 timeout 300 torchrun --nproc_per_node 1 bench/torch_gpt.py $tiny_torch --strategy single \
      --warmup 10 --steps 50 $c 2>> "$OUT/torch_small.err" | tee -a "$results"
  done
  CUDA_VISIBLE_DEVICES=0 timeout 300 torchrun --nproc_per_node 1 bench/torch_gpt.py --model 124M --strategy single \
    --compile 2>> "$OUT/torch_small.err" | tee -a "$results"
fi
if has ln_ab; then
  # Our LayerNorm forward kernel off and on (ZS_FUSED_LAYER_NORM), alternating, graphed, ONE GPU; then
  # two traced eager steps of the shakespeare_char shape with every kernel on, and where the time goes.
  note "LayerNorm forward kernel A/B (graphed, 1 GPU), then a traced shakespeare_char-shape run"
  tiny="--n_layer 6 --n_head 6 --n_embd 384 --vocab 65 --dropout 0.2 --micro 64 --seq 256"
  for _ in 1 2; do
    for ln in 0 1; do
      ZS_FUSED_LAYER_NORM=$ln CUDA_VISIBLE_DEVICES=0 timeout 300 $B/bin/bench_gpt --model custom $tiny --stage 0 \
        --warmup 10 --steps 50 --cuda_graph --label "shakespeare_char graphed layer_norm=$ln" 2>> "$OUT/zs_ln_ab.err" \
        | grep '^{' | tee -a "$results"
    done
  done
  for ln in 0 1; do
    ZS_FUSED_LAYER_NORM=$ln CUDA_VISIBLE_DEVICES=0 timeout 300 $B/bin/bench_gpt --model 124M --stage 0 --cuda_graph \
      --label "124M graphed layer_norm=$ln" 2>> "$OUT/zs_ln_ab.err" | grep '^{' | tee -a "$results"
  done
  CUDA_VISIBLE_DEVICES=0 timeout 300 $B/bin/bench_gpt --model custom $tiny --stage 0 --warmup 10 --steps 20 \
    --label "shakespeare_char traced" --profile "$OUT/trace_small.json" 2>> "$OUT/zs_ln_ab.err" | grep '^{' | tee -a "$results"
  TOP_KERNELS=40 "$PY" bench/trace_summary.py "$OUT/trace_small.json" | tee "$OUT/small_profile_summary.txt"
  gzip -f "$OUT"/trace_small.json
fi
if has big_ab; then
  # GPT-2 1.5B on ONE GPU, stage 0: our column-sum gradients off and on, alternating.
  note "GPT-2 1.5B, 1 GPU, stage 0: ZS_FUSED_NORM_BIAS 0/1"
  for _ in 1 2; do
    for nb in 0 1; do
      ZS_FUSED_NORM_BIAS=$nb CUDA_VISIBLE_DEVICES=0 timeout 300 $B/bin/bench_gpt --model 1.5B --stage 0 \
        --label "1.5B norm_bias=$nb" 2>> "$OUT/zs_big_ab.err" | grep '^{' | tee -a "$results"
    done
  done
fi
if has ce_ab; then
  # The fused cross-entropy on and off (ZS_FUSED_CROSS_ENTROPY=0: ATen's on fp32 logits), alternating,
  # ${CE_AB_ROUNDS:-2} rounds, for each of ${CE_AB_MODELS:-124M 1.5B} at stage ${CE_AB_STAGE:-0} on every GPU.
  note "cross-entropy A/B: GPT-2 ${CE_AB_MODELS:-124M 1.5B}, stage ${CE_AB_STAGE:-0}, $NGPU GPUs"
  for model in ${CE_AB_MODELS:-124M 1.5B}; do
    for _ in $(seq "${CE_AB_ROUNDS:-2}"); do
      for fused in 0 1; do
        ZS_FUSED_CROSS_ENTROPY=$fused timeout 300 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_gpt --model "$model" \
          --stage "${CE_AB_STAGE:-0}" --label "fused_cross_entropy=$fused" 2>> "$OUT/zs_ce_ab.err" \
          | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
      done
    done
  done
fi
