# bench/gpu_visit.sh steps: the Llama benchmarks beside FSDP2 and DeepSpeed: stage 3, offload, super_offload, loading.
# Sourced by gpu_visit.sh, which defines has, note, ds_setup, $B, $PY, $NGPU, $OUT and $results.
if has llama; then
  # Llama-2-7B shape, seq 2048, micro 4, bf16, activation checkpointing, stage 3, 2 GPUs: ours (bf16 and fp32
  # reduction) against transformers' LlamaForCausalLM under FSDP2 and DeepSpeed ZeRO-3.
  note "Llama-2-7B shape: ours vs FSDP2, $NGPU GPUs (llama_ds: DeepSpeed)"
  for reduce in ${LLAMA_REDUCE:-bf16 fp32}; do
    timeout 300 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing \
      --comm_dtype $reduce --label "reduce $reduce" 2>> "$OUT/zs_llama.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
  done
  timeout 300 torchrun --nproc_per_node "$NGPU" bench/llama_reference.py --strategy fsdp2 2>> "$OUT/torch_llama.err" | tee -a "$results"
fi
if has llama_ds; then
  note "Llama-2-7B shape: DeepSpeed ZeRO-3, $NGPU GPUs"
  if ds_setup; then
    timeout 400 torchrun --nproc_per_node "$NGPU" bench/llama_reference.py --strategy deepspeed 2>> "$OUT/ds_llama.err" | tee -a "$results"
  fi
fi
if has llama_profile; then
  note "profile: Llama-2-7B shape, stage 3, activation checkpointing, $NGPU GPUs (ours), 2 traced steps"
  timeout 300 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing \
    --warmup 2 --steps 2 --profile "$OUT/trace_llama.json" 2>> "$OUT/zs_llama.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
  "$PY" bench/trace_summary.py "$OUT/trace_llama.json" | tee "$OUT/llama_profile_summary.txt"
  gzip -f "$OUT"/trace_llama.json
fi
if has llama_offload; then
  # The same 7B with stage 3 + CPU optimizer and parameter offload on ONE GPU, 10 steps: ours vs DeepSpeed.
  note "Llama-2-7B shape, stage 3 + CPU optimizer and parameter offload, 1 GPU (host: $(free -g | awk '/Mem/{print $2}') GiB)"
  CUDA_VISIBLE_DEVICES=0 timeout 420 $B/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing \
    --offload_optimizer cpu --offload_param cpu --warmup 2 --steps 8 --label "offload 1 GPU" 2>> "$OUT/zs_llama_offload.err" \
    | grep '^{' | tee -a "$results"
  if ds_setup; then
    CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=$(nproc) timeout 420 torchrun --nproc_per_node 1 bench/llama_reference.py --strategy deepspeed --offload \
      --warmup 2 --steps 8 2>> "$OUT/ds_llama_offload.err" | tee -a "$results"
  fi
fi
if has llama_super_offload; then
  # The same offload run with offload_optimizer.super_offload and no clipping (DeepSpeed's own
  # switch: CPU updates begin in backward only when no clipping needs the whole gradient's norm),
  # ours vs DeepSpeed with the same config.
  note "Llama-2-7B shape, offload on 1 GPU with super_offload, no clipping: ours vs DeepSpeed"
  CUDA_VISIBLE_DEVICES=0 timeout 420 $B/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing \
    --offload_optimizer cpu --offload_param cpu --super_offload --clip 0 --warmup 2 --steps 8 \
    --label "offload 1 GPU, super_offload, clip 0" 2>> "$OUT/zs_llama_offload.err" | grep '^{' | tee -a "$results"
  if ds_setup; then
    CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=$(nproc) timeout 420 torchrun --nproc_per_node 1 bench/llama_reference.py --strategy deepspeed --offload \
      --super_offload --clip 0 --warmup 2 --steps 8 --label "super_offload, clip 0" 2>> "$OUT/ds_llama_offload.err" | tee -a "$results"
  fi
fi
if has llama_offload_ratio; then
  # A partial offload (offload_optimizer.ratio, default 0.3 here) of the 7B on ONE GPU, with optimizer offload and
  # with parameter offload too, beside ours without offload; llama_offload_ratio_ds runs DeepSpeed's of each config
  # (sharing a label; summarize.py pairs them). The halves are separate steps so that each fits one device call.
  r=${OFFLOAD_RATIO:-0.3}
  note "Llama-2-7B shape, offload_optimizer.ratio $r, 1 GPU: ours, beside ours without offload"
  CUDA_VISIBLE_DEVICES=0 timeout 300 $B/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing \
    --warmup 2 --steps 6 --label "ratio: no offload" 2>> "$OUT/zs_llama_ratio.err" | grep '^{' | tee -a "$results"
  for param in none cpu; do
    CUDA_VISIBLE_DEVICES=0 timeout 300 $B/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing \
      --offload_optimizer cpu --offload_param $param --offload_ratio "$r" --warmup 2 --steps 6 \
      --label "ratio: cpu/$param $r" 2>> "$OUT/zs_llama_ratio.err" | grep '^{' | tee -a "$results"
  done
fi
if has llama_offload_ratio_ds; then
  # DeepSpeed's whole offload (ratio 1) of this shape needs ~154 GiB of host memory; its partial one fits.
  r=${OFFLOAD_RATIO:-0.3}
  note "Llama-2-7B shape, offload_optimizer.ratio $r, 1 GPU: DeepSpeed"
  if ds_setup; then
    for param in ${RATIO_DS_PARAM:-none cpu}; do
      CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=$(nproc) timeout -k 10 420 torchrun --nproc_per_node 1 bench/llama_reference.py \
        --strategy deepspeed --offload --offload_param $param --offload_ratio "$r" --warmup 2 --steps 6 \
        --label "ratio: cpu/$param $r" 2>> "$OUT/ds_llama_ratio.err" | grep '^{' | tee -a "$results"
    done
  fi
fi
if has llama_offload_tune; then
  # Ours alone with offload, one run per ';'-separated list of environment settings in
  # OFFLOAD_TUNE (e.g. "ZS_CPU_ADAM_THREADS=28;ZS_OFFLOAD_PIECE_ELEMENTS=16777216"; "-" is the default).
  note "Llama-2-7B shape, stage 3 + CPU optimizer and parameter offload, 1 GPU: settings ${OFFLOAD_TUNE:--}"
  IFS=';' read -ra tune <<< "${OFFLOAD_TUNE:--}"
  for setting in "${tune[@]}"; do
    [ "$setting" = "-" ] && setting=""
    env $setting CUDA_VISIBLE_DEVICES=0 timeout 300 $B/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing \
      --offload_optimizer cpu --offload_param cpu --warmup 2 --steps 4 --label "offload 1 GPU ${setting:-default}" \
      2>> "$OUT/zs_llama_offload.err" | grep '^{' | tee -a "$results"
  done
fi
if has llama_offload_profile; then
  note "profile: Llama-2-7B shape, stage 3 + CPU optimizer and parameter offload, 1 GPU, 2 traced steps"
  CUDA_VISIBLE_DEVICES=0 timeout 420 $B/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing \
    --offload_optimizer cpu --offload_param cpu --warmup 2 --steps 2 --profile "$OUT/trace_llama_offload.json" \
    --label "offload 1 GPU, traced" 2>> "$OUT/zs_llama_offload.err" | grep '^{' | tee -a "$results"
  "$PY" bench/trace_summary.py "$OUT/trace_llama_offload.json" | tee "$OUT/llama_offload_profile_summary.txt"
  gzip -f "$OUT"/trace_llama_offload.json
fi
if has llama_load; then
  # A 7B Hugging Face directory written by our export (bf16, sharded) loaded under stage 3 on the GPUs.
  note "Llama-2-7B Hugging Face directory: export, then load under stage 3 on $NGPU GPUs"
  rm -rf /tmp/llama7b_hf
  timeout 300 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_llama --model llama2-7b --stage 3 --export_hf /tmp/llama7b_hf \
    2>> "$OUT/zs_llama_load.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
  du -sh /tmp/llama7b_hf | tee -a "$OUT/visit.log"; ls /tmp/llama7b_hf | tee -a "$OUT/visit.log"
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
  timeout 300 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_llama --init_from /tmp/llama7b_hf --stage 3 --activation_checkpointing \
    --warmup 1 --steps 2 --label "loaded from hf" 2>> "$OUT/zs_llama_load.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
fi
