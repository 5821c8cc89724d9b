#!/usr/bin/env bash
# ZeRO++ on CPU ranks: a small GPT trains on shakespeare_char for 200 steps at stage 3 (fp32) under
# plain stage 3 and each combination of qwZ (zero_quantized_weights), qgZ
# (zero_quantized_gradients) and hpZ (zero_hpz_partition_size 2: two emulated nodes of 2 ranks, so
# qgZ with hpZ reduces in two hops, int4 within and int8 across; qgZ alone is one int8 hop over
# the one node of 4). Same seed, data order and schedule in every run; the curves, a CSV and a
# markdown table of the final losses against plain stage 3 go to bench/results/zeropp_cpu/.
#
#   bench/zeropp_cpu.sh [ranks=4] [steps=200]       (after building zsrun and train_gpt in build/)
#
# A benchmark, not a test: it takes about a minute per run on 2 cores. NICE=19 (default) runs it
# at the lowest priority.
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${1:-4}
steps=${2:-200}
out=bench/results/zeropp_cpu
work=${WORK:-/tmp/zs_zeropp_cpu}
mkdir -p "$out" "$work"
text=../shared/data/tinyshakespeare.txt
[ -f "$text" ] || { echo "no $text" >&2; exit 1; }
[ -f "$work/data/train.bin" ] || python3 scripts/prepare_char_dataset.py "$text" "$work/data" > /dev/null

declare -A runs=(
  [plain]=''
  [qwZ]='"zero_quantized_weights": true'
  [qgZ]='"zero_quantized_gradients": true'
  [hpZ]='"zero_hpz_partition_size": 2'
  [qwZ+qgZ]='"zero_quantized_weights": true, "zero_quantized_gradients": true'
  [qwZ+hpZ]='"zero_quantized_weights": true, "zero_hpz_partition_size": 2'
  [qgZ+hpZ]='"zero_quantized_gradients": true, "zero_hpz_partition_size": 2'
  [qwZ+qgZ+hpZ]='"zero_quantized_weights": true, "zero_quantized_gradients": true, "zero_hpz_partition_size": 2'
)
order="plain qwZ qgZ hpZ qwZ+qgZ qwZ+hpZ qgZ+hpZ qwZ+qgZ+hpZ"
for name in $order; do
  extra=${runs[$name]}
  [ -n "$extra" ] && extra=", $extra"
  cat > "$work/$name.json" <<EOF
{
  "train_micro_batch_size_per_gpu": "auto",
  "gradient_accumulation_steps": "auto",
  "gradient_clipping": "auto",
  "steps_per_print": 50,
  "optimizer": {"type": "AdamW", "params": {"lr": "auto", "betas": "auto", "eps": 1e-8, "weight_decay": "auto"}},
  "zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 1000, "stage3_prefetch_bucket_size": 200000$extra}
}
EOF
  rm -f "$work/$name.jsonl"
  t0=$(date +%s)
  nice -n "${NICE:-19}" build/bin/zsrun --num_procs "$ranks" build/bin/train_gpt --deepspeed_config "$work/$name.json" \
    --data "$work/data" --n_layer 4 --n_head 4 --n_embd 128 --block_size 64 --batch_size 8 --gradient_accumulation_steps "$ranks" \
    --learning_rate 1e-3 --min_lr 1e-4 --warmup_iters 20 --lr_decay_iters "$steps" --max_iters "$steps" --eval_interval 0 \
    --dropout 0 --device cpu --dtype float32 --sample_tokens 0 --log_interval 50 --log_jsonl "$work/$name.jsonl" \
    > "$work/$name.log" 2>&1 || { echo "$name failed:"; tail -20 "$work/$name.log"; exit 1; }
  echo "$name: $(( $(date +%s) - t0 )) s; $(grep -m1 'ZeRO++' "$work/$name.log" | sed 's/^\[rank 0\] //' || true)"
done

args=()
for name in $order; do args+=("$name=$work/$name.jsonl"); done
# The table, the CSV and the differences; the curves: scripts/plot_runs.py. Both with matplotlib
# from the monitor environment.
py=$(scripts/monitor_venv.sh | tail -n 1)
"$py" bench/zeropp_cpu_summary.py --ranks "$ranks" --out "$out" "${args[@]}"
labels=$(echo $order | tr ' ' ',')
"$py" scripts/plot_runs.py $(for name in $order; do echo "$work/$name.jsonl"; done) --labels "$labels" --smooth 10 \
  -o "$out/loss_curves.png"
echo "wrote $out/final_losses.md, $out/losses.csv, $out/loss_diff.png, $out/loss_curves.png"
