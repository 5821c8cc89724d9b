#!/usr/bin/env bash
# Hugging Face interchange check: trains small GPTs with train_gpt, exports their checkpoints with
# `zs_ckpt export-hf`, loads them in transformers' GPT2LMHeadModel and compares the logits with
# ZeroShard's own (bench/hf_interchange.py), then prints a table.
#
# NOT part of CI (the CI's checks against transformers are tests/test_hf_*.cpp): it uses the Python
# environment scripts/hf_venv.sh makes once (git-ignored .deps/hfvenv: torch, transformers,
# safetensors from PyPI). CPU only.
#
#   BUILD=build bash bench/hf_interchange.sh          # needs: ninja -C $BUILD zs_ckpt_app train_gpt gpt_logits
#   LARGE=1 bash bench/hf_interchange.sh              # adds a GPT-2 124M-shape checkpoint (~3 GB of disk)
#
# Environment: BUILD (build folder, default build), WORK (scratch folder, default
# /tmp/zs_hf_interchange; each case's folder in it is replaced), LARGE (1: add the 124M case).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${BUILD:-$REPO/build}" && pwd)
WORK=${WORK:-/tmp/zs_hf_interchange}
LARGE=${LARGE:-0}

for bin in bin/zs_ckpt bin/train_gpt bin/tests/gpt_logits; do
  if [ ! -x "$BUILD/$bin" ]; then
    echo "missing $BUILD/$bin: build it first (ninja -C $BUILD zs_ckpt_app train_gpt gpt_logits)" >&2
    exit 1
  fi
done
PY=$("$REPO/scripts/hf_venv.sh" | tail -n 1)
mkdir -p "$WORK"

# case name | n_layer n_head n_embd block_size | bias | iterations | extra train_gpt flags | extra check flags
CASES=(
  "tiny_bias|2 2 64 32|true|20||"
  "tiny_nobias|2 2 64 32|false|20||"
  "small_nobias|4 4 128 64|false|20||"
)
if [ "$LARGE" = 1 ]; then
  # nanoGPT token folder of random GPT-2 ids, so the model has GPT-2's padded vocabulary (50304).
  "$PY" -c "
import numpy as np, os, sys
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
rng = np.random.default_rng(0)
for split, n in (('train', 200000), ('val', 20000)):
    rng.integers(0, 50257, n, dtype=np.uint16).tofile(os.path.join(d, split + '.bin'))
" "$WORK/gpt2_tokens"
  CASES+=("gpt2_124m|12 12 768 1024|false|1|--data $WORK/gpt2_tokens --vocab_size 50304|--seq_len 16")
fi

for spec in "${CASES[@]}"; do
  IFS='|' read -r name dims bias iters train_extra check_extra <<<"$spec"
  read -r n_layer n_head n_embd block_size <<<"$dims"
  dir="$WORK/$name"
  rm -rf "$dir" && mkdir -p "$dir"
  echo "== $name: train_gpt $dims bias=$bias, $iters iterations"
  # shellcheck disable=SC2086
  "$BUILD/bin/train_gpt" --device cpu --n_layer "$n_layer" --n_head "$n_head" --n_embd "$n_embd" \
    --block_size "$block_size" --bias "$bias" --max_iters "$iters" --batch_size 4 --learning_rate 1e-3 \
    --warmup_iters 2 --eval_interval 0 --sample_tokens 0 --log_interval 10 --out_dir "$dir/ckpt" \
    $train_extra > "$dir/train.log" 2>&1 || { cat "$dir/train.log"; exit 1; }
  status=0
  # shellcheck disable=SC2086
  "$PY" "$REPO/bench/hf_interchange.py" --ckpt_dir "$dir/ckpt" --bin_dir "$BUILD/bin" --work_dir "$dir/out" \
    --n_layer "$n_layer" --n_head "$n_head" --n_embd "$n_embd" --block_size "$block_size" $check_extra \
    > "$dir/check.log" 2>&1 || status=$?
  grep -E "^(hf |control|LAYOUT|LOAD|peak RSS)" "$dir/check.log" || true
  tail -n 1 "$dir/check.log" > "$dir/summary.json"
  [ "$status" = 0 ] || echo "   $name FAILED (see $dir/check.log)"
done

"$PY" - "$WORK" "${CASES[@]}" <<'EOF'
import json, sys
work, cases = sys.argv[1], [c.split("|")[0] for c in sys.argv[2:]]
print(f"\n{'case':<14}{'params':>11}{'bias':>6}{'fp32 max abs':>14}{'fp32 max rel':>14}"
      f"{'bf16 abs/scale':>16}{'argmax bf16':>12}{'consol. RSS':>13}  result")
failed = False
for name in cases:
    try:
        s = json.load(open(f"{work}/{name}/summary.json"))
    except Exception:
        print(f"{name:<14} no summary (see {work}/{name}/check.log)")
        failed = True
        continue
    failed |= not s["ok"]
    print(f"{name:<14}{s['parameters']:>11}{str(s['bias']):>6}{s['fp32']['max_abs_diff']:>14.2e}"
          f"{s['fp32']['max_rel_diff']:>14.2e}{s['bf16']['max_abs_diff_over_scale']:>16.2e}"
          f"{s['bf16']['argmax_agree']:>12.3f}{s['consolidate_peak_rss_mib']:>10.1f} MiB  {'OK' if s['ok'] else 'FAIL'}")
sys.exit(1 if failed else 0)
EOF
