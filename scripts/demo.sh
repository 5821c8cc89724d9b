#!/usr/bin/env bash
# The README's first command. Installs what is missing, builds, then trains a small GPT on two CPU
# ranks under ZeRO stage 2 (real MPI collectives) on generated text: no GPU, no download. The
# loss falls from ~3.7 to ~0.7 and a text sample is printed at the end (about a minute on 2 cores).
# The run's settings are configs/demo_cpu.py (a nanoGPT-style config file); extra arguments
# override them, e.g. scripts/demo.sh --max_iters=100.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" "$root/build"
exec "$root/build/bin/zsrun" --num_procs 2 "$root/build/bin/train_gpt" "$root/configs/demo_cpu.py" \
  --deepspeed_config="$root/configs/demo_zero2.json" "$@"
