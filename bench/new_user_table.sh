#!/usr/bin/env bash
# What a new user coming from DeepSpeed or nanoGPT tries first, run against a build: every attempt
# of the issue "As a user would" (its items 1-8) and more of the same kind (typos, wrong types,
# wrong paths, empty checkpoint folders, zero or negative sizes, ...). Prints a markdown table:
#   attempt | before | exit now | what they see now
# "what they see now" is the first line of the program's output (stdout and stderr together) that
# matches the row's pattern, or, where the row has none, the first line with "error" in it when the
# exit code is not 0, else the first line.
#
# "before" is what ZeroShard at commit 1806138 (before this work) printed for the same attempt. It was
# NOT run by this script (that tree builds for 15 minutes); it was determined by reading that
# commit's code (`git show 1806138:apps/train_gpt.cpp`, `:src/zs/launcher/...`, `:src/zs/ckpt/...`),
# and for the rows that hand train_gpt a config file or flags, by compiling that commit's config
# reader (src/zs/config/*.cpp) with the make_config and CLI11 options of its train_gpt and running
# those on the same files and flags. Three before-cells describe run-time behaviour the issue
# reported of that commit (mpirun's tag inside lines, Ctrl-C read as "exited with code 143", OpenMPI's
# own abort under srun without PMI) and quote that report. "exit N:" starts each before-cell; "-"
# where that commit did not have the program or file at all.
#
# Usage: bench/new_user_table.sh [build-dir, default build] > bench/results/new_user_table.md
# Needs the build's train_gpt, zsrun and zs_ckpt; the install row also needs the whole build (it
# is skipped with a note otherwise). Takes a few minutes on 2 cores (the README demo row is ~1 min).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
B=$build/bin
for p in train_gpt zsrun zs_ckpt; do
  [ -x "$B/$p" ] || { echo "no $B/$p: build it first (cmake --build $build --target $p)" >&2; exit 1; }
done
W=$(mktemp -d /tmp/zs_new_user.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"

# A tiny model and a short run, so that each attempt takes seconds.
T="--device=cpu --n_layer=1 --n_head=2 --n_embd=32 --block_size=32 --batch_size=2 --max_iters=2 --eval_interval=0 --eval_iters=1"
TG="$B/train_gpt $T"

n=0
cell() {  # one line, fit for a table cell
  local s=${1//|/\\|}
  s=${s//$W\//}
  s=${s//$W/.}
  s=${s//$build\/bin\//}
  s=${s//$root\//}
  [ ${#s} -gt 240 ] && s="${s:0:237}..."
  printf '%s' "$s"
}
# attempt LABEL BEFORE PATTERN COMMAND (a bash command line, run in the scratch folder)
attempt() {
  local label=$1 before=$2 pattern=$3 command=$4 out rc line
  out=$(timeout 300 bash -c "set -o pipefail; $command" 2>&1)
  rc=$?
  line=""
  [ -n "$pattern" ] && line=$(grep -E -m1 -- "$pattern" <<<"$out")
  [ -z "$line" ] && [ "$rc" != 0 ] && line=$(grep -i -m1 -- "error" <<<"$out")
  [ -z "$line" ] && line=$(head -n1 <<<"$out")
  n=$((n + 1))
  printf '| %d | %s | %s | %s | %s |\n' "$n" "$(cell "$label")" "$(cell "$before")" "$rc" "$(cell "$line")"
}
section() { printf '| | **%s** | | | |\n' "$1"; }

# ---- files the attempts use -------------------------------------------------------------------
mkdir -p config data/tiny_char empty_ck hf_like
python3 -c "print('the quick brown fox jumps over the lazy dog. ' * 300)" > data/tiny_char/input.txt
cat > config/train_tiny.py <<'EOF'
# nanoGPT's config style: Python literals, comments
out_dir = 'out-tiny'
eval_interval = 2
eval_iters = 2
log_interval = 1
always_save_checkpoint = False
wandb_log = False
dataset = 'tiny_char'
batch_size = 2
block_size = 32
n_layer = 1
n_head = 2
n_embd = 32
max_iters = 4
lr_decay_iters = 4
warmup_iters = 1
device = 'cpu'
compile = False
EOF
printf 'import os\nn_layer = 2\n' > config/with_import.py
j() { printf '%s\n' "$2" > "$1"; }
j typo_top.json '{"train_micro_batch_size_per_gpus": 2}'
j typo_zero.json '{"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 2, "overlap_com": true}}'
j stage_string.json '{"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": "2"}}'
j batch_string.json '{"train_batch_size": "32"}'
j batch_zero.json '{"train_batch_size": 0}'
j micro_negative.json '{"train_micro_batch_size_per_gpu": -4}'
j triple.json '{"train_batch_size": 32, "train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 2}'
j adamm.json '{"train_micro_batch_size_per_gpu": 2, "optimizer": {"type": "Adamm", "params": {"lr": 1e-3}}}'
printf '{\n  // DeepSpeed reads comments and trailing commas\n  "train_micro_batch_size_per_gpu": 2,\n  "zero_optimization": {"stage": 1,},\n}\n' > comments.json
printf '{\n  "train_micro_batch_size_per_gpu": 2\n  "zero_optimization": {"stage": 1}\n}\n' > missing_comma.json
j array.json '[{"train_batch_size": 2}]'
: > empty.json
j both_precisions.json '{"train_micro_batch_size_per_gpu": 2, "fp16": {"enabled": true}, "bf16": {"enabled": true}}'
j stage4.json '{"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 4}}'
j offload_gpu.json '{"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 2, "offload_optimizer": {"device": "gpu"}}}'
j cosine.json '{"train_micro_batch_size_per_gpu": 2, "scheduler": {"type": "CosineLR", "params": {}}}'
j twice.json '{"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 2, "stage": 3}}'
j huge_number.json '{"train_batch_size": 32, "gradient_accumulation_steps": 1e3083}'
j huge_int.json '{"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 2, "reduce_bucket_size": 9223372036854775807}}'
j float_batch.json '{"train_micro_batch_size_per_gpu": 2.5}'
j wall_clock.json '{"train_micro_batch_size_per_gpu": 2, "wall_clock_breakdown": true}'
j memory.json '{"train_micro_batch_size_per_gpu": 2, "memory_breakdown": true}'
j steps2.json '{"train_micro_batch_size_per_gpu": 2, "steps_per_print": 2}'
j cpu_offload.json '{"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 2, "cpu_offload": true}}'
j gather16.json '{"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 3, "stage3_gather_fp16_weights_on_model_save": true}}'
j zero_buckets.json '{"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 3, "reduce_bucket_size": 0, "stage3_prefetch_bucket_size": 0, "stage3_param_persistence_threshold": 0, "sub_group_size": 1e9}}'
j unresolvable.json '{"train_micro_batch_size_per_gpu": 2, "gradient_predivide_factor": "auto", "steps_per_print": "auto"}'
python3 -c "print('{\"a\":' * 100000)" > deep.json
python3 -c "
with open('huge.json', 'w') as f: f.write('{')
import os; os.truncate('huge.json', 300 << 20)"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' > image.json
mkdir -p a_directory.json
cp "$root/tests/data/ds_configs/hf_ds_config_zero2.json" "$root/tests/data/ds_configs/hf_ds_config_zero3.json" .
cp "$root/tests/data/ds_configs/ds_docs_zero_stage2.json" .
touch other_run_dir_marker

# Checkpoints of a short run: global_step2, global_step4 and `latest`.
$B/train_gpt ${T/--max_iters=2/--max_iters=4} --save_interval=2 --out_dir=ck >/dev/null 2>&1
cp -r ck ck_nolatest && rm ck_nolatest/latest
cp -r ck ck_damaged && truncate -s 100 ck_damaged/global_step4/rank_0_of_1.safetensors
$B/zs_ckpt export-hf ck hf_out >/dev/null 2>&1
touch ckpt.pt

echo "# What a new user tries, before and now"
echo
echo "Written by \`bench/new_user_table.sh\` on $(date -u +%Y-%m-%d) against \`$(git -C "$root" rev-parse --short HEAD)\`"
echo "($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start: timings depend on it). \"before\" is ZeroShard at 1806138, read from its code (see the script's header);"
echo "(three cells, marked \"(reported)\", quote the issue's report of that commit's run-time behaviour);"
echo "\"exit now\" and \"what they see now\" were run. T = a tiny model for a 2-iteration run on CPU"
echo "(\`$T\`)."
echo
echo "| # | attempt | before (1806138) | exit now | what they see now (first line) |"
echo "|---|---|---|---|---|"

section "1. An installable library"
if [ -x "$B/train_llama" ] && [ -f "$build/src/zs/libzeroshard.a" -o -f "$build/src/zs/libzeroshard.so" ]; then
  attempt "cmake --install build --prefix P; is there a CMake package?" \
    "exit 0: installs nothing (no install rules); find_package(zeroshard) fails" \
    "zeroshard" "cmake --install '$build' --prefix '$W/prefix' >/dev/null && find prefix -name 'zeroshard*onfig*.cmake' | sort"
else
  printf '| | cmake --install (skipped: %s is not fully built) | | | |\n' "$build"
fi
printf '| | find_package(zeroshard) from an out-of-tree project, 2 CPU ranks (tests/install_consumer.sh, in CI; not re-run here) | exit 1: CMake cannot find zeroshardConfig.cmake | | see \`ctest -R Install\` |\n'

section "2. DeepSpeed configs as DeepSpeed takes them"
attempt "Hugging Face Trainer's zero2 config (all \"auto\"), unchanged" \
  "exit 2: hf_ds_config_zero2.json: optimizer.params.eps is \"auto\" but this program has no value for it; set it in the config" \
  "error|ZeRO stage" "$TG --deepspeed_config=hf_ds_config_zero2.json"
attempt "Hugging Face Trainer's zero3 config, unchanged" \
  "exit 2: hf_ds_config_zero3.json: optimizer.params.eps is \"auto\" but this program has no value for it; set it in the config" \
  "error|ZeRO stage" "$TG --deepspeed_config=hf_ds_config_zero3.json"
attempt "DeepSpeed tutorial's ZeRO-2 config (no batch size in it)" \
  "exit 2: the batch size is not set: set train_micro_batch_size_per_gpu ... and/or train_batch_size" \
  "error|ZeRO stage" "$TG --deepspeed_config=ds_docs_zero_stage2.json"
attempt "two \"auto\" nothing can resolve" \
  "exit 2: unresolvable.json: gradient_predivide_factor is \"auto\" but this program has no value for it; set it in the config (the first only)" \
  "" "$TG --deepspeed_config=unresolvable.json 2>&1 | tr '\\n' ' '"
attempt "0 for bucket sizes and thresholds, sub_group_size (stage 3)" \
  "exit 2: zero_optimization.reduce_bucket_size must be a positive integer, got 0" \
  "error|ZeRO stage" "$TG --deepspeed_config=zero_buckets.json"
attempt "deprecated cpu_offload: true" \
  "exit 0: accepted, with a deprecation warning" \
  "cpu_offload|error" "$TG --deepspeed_config=cpu_offload.json"
attempt "deprecated stage3_gather_fp16_weights_on_model_save" \
  "exit 0: accepted" \
  "error|ZeRO stage" "$TG --deepspeed_config=gather16.json"
attempt "a key given twice in one object" \
  "exit 0: accepted, the last value (stage 3) silently wins" \
  "" "$TG --deepspeed_config=twice.json"
attempt "a config nested 100,000 levels deep" \
  "exit 2: deep.json: invalid JSON: parse error at line 2, column 1: syntax error while parsing value - unexpected end of input" \
  "" "$TG --deepspeed_config=deep.json"
attempt "a 300 MB config" \
  "exit 2: reads all 300 MB, then: huge.json: invalid JSON: parse error at line 1, column 2: syntax error while parsing object key - unexpected end of input" \
  "" "$TG --deepspeed_config=huge.json"
attempt "a PNG passed as the config" \
  "exit 2: image.json: invalid JSON: parse error at line 1, column 1: syntax error while parsing value - invalid literal; last read: '<0x89>'" \
  "" "$TG --deepspeed_config=image.json"
attempt "a directory passed as the config" \
  "exit 2: a_directory.json: invalid JSON: parse error at line 1, column 1: syntax error while parsing value - unexpected end of input" \
  "" "$TG --deepspeed_config=a_directory.json"
attempt "gradient_accumulation_steps 1e3083 (found by fuzzing)" \
  "exit 1: train_gpt: error: [json.exception.out_of_range.406] number overflow parsing '1e3083'" \
  "" "$TG --deepspeed_config=huge_number.json"
attempt "reduce_bucket_size 9223372036854775807" \
  "exit 0: accepted" \
  "" "$TG --deepspeed_config=huge_int.json"

section "3. Settings that say something do it"
attempt "wall_clock_breakdown: true" \
  "exit 0: accepted and ignored" "time \\(ms\\)" "$TG --log_interval=1 --deepspeed_config=wall_clock.json"
attempt "memory_breakdown: true" \
  "exit 0: accepted and ignored" "memory \\(GiB" "$TG --log_interval=1 --deepspeed_config=memory.json"
attempt "--log_interval=1 with a config that says steps_per_print 2" \
  "exit 0: --log_interval ignored: step lines every 2 iterations, no word about it" \
  "step lines|error" "$B/train_gpt ${T/--max_iters=2/--max_iters=4} --deepspeed_config=steps2.json --log_interval=1"
attempt "--dtype=bfloat16 with a config without bf16" \
  "exit 0: no warning; the run is fp32" \
  "warning|error" "$TG --deepspeed_config=steps2.json --dtype=bfloat16"

section "4. nanoGPT habits"
attempt "train_gpt config/train_tiny.py (a nanoGPT config file)" \
  "exit 109: The following argument was not expected: config/train_tiny.py" \
  "config file|error" "$B/train_gpt config/train_tiny.py"
attempt "--eval_only=True --init_from=resume --out_dir=ck" \
  "exit 109: The following argument was not expected: --eval_only=True" \
  "step 4:|error" "$TG --eval_only=True --init_from=resume --out_dir=ck"
attempt "--decay_lr=False --bias=True (nanoGPT's booleans)" \
  "exit 0: accepted" "^step 2/2|error" "$TG --decay_lr=False --bias=True"
attempt "--max_iters=3 --max_iters=2 (a flag twice: the last wins)" \
  "exit 114: --max_iters: At Most 1 required but received 2" \
  "^iterations|^\[train_gpt\] iterations|error" "$TG --max_iters=3 --max_iters=2"
attempt "--init_from=gpt2 (no Hugging Face cache)" \
  "exit 1: train_gpt: error: gpt2 is missing (read as a .safetensors path)" \
  "" "HF_HUB_CACHE=$W/nohub $TG --init_from=gpt2"
attempt "--dataset=shakespeare_char (no data/shakespeare_char here)" \
  "exit 109: The following argument was not expected: --dataset=shakespeare_char" \
  "" "$TG --dataset=shakespeare_char"
attempt "--always_save_checkpoint=False" \
  "exit 109: The following argument was not expected: --always_save_checkpoint=False" \
  "^\[train_gpt\] iterations|error" "$TG --always_save_checkpoint=False"
attempt "--compile=True" \
  "exit 109: The following argument was not expected: --compile=True" "" "$TG --compile=True"
attempt "--wandb_log=True" \
  "exit 109: The following argument was not expected: --wandb_log=True" "" "$TG --wandb_log=True"
attempt "--max_iters -1" \
  "exit 0: accepted: no iteration runs, a sample is printed" "" "$TG --max_iters -1"
attempt "a config file with an import line" \
  "exit 109: The following argument was not expected: config/with_import.py" "" "$B/train_gpt config/with_import.py"

section "5. The launcher"
attempt "RANK WORLD_SIZE LOCAL_RANK LOCAL_WORLD_SIZE on 2 CPU ranks" \
  "exit 0: [rank 0] RANK= WORLD_SIZE= LOCAL_RANK= LOCAL_WORLD_SIZE= (unset on CPU ranks)" \
  "rank 0" "$B/zsrun --num_procs 2 sh -c 'echo RANK=\$RANK WORLD_SIZE=\$WORLD_SIZE LOCAL_RANK=\$LOCAL_RANK LOCAL_WORLD_SIZE=\$LOCAL_WORLD_SIZE'"
attempt "5 runs on 2 CPU ranks: lines with mpirun's [1,0]<stdout>: tag inside" \
  "exit 0: the tag inside rank 0's lines in about half of the runs (reported)" \
  "" "c=0; for i in 1 2 3 4 5; do o=\$($B/zsrun --num_procs 2 $TG 2>&1); c=\$((c + \$(grep -c '<std' <<<\"\$o\"))); done; echo \"\$c lines with a tag inside, in 5 runs\""
attempt "Ctrl-C (SIGINT to the process group) during a 2-rank run" \
  "exit 143: zsrun: rank 0 exited with code 143; stopped the other ranks (reported)" \
  "zsrun" "setsid bash -c '$B/zsrun --num_procs 2 $B/train_gpt ${T/--max_iters=2/--max_iters=100000} & sleep 6; kill -INT -- -\$\$; wait \$!; exit \$?' 2>&1"
attempt "a CPU rank started by srun without an MPI plugin (srun's variables, no PMI ones)" \
  "exit 1: MPI_Init under srun without PMI: OpenMPI's own abort text (reported)" \
  "" "SLURM_JOB_ID=1 SLURM_PROCID=0 SLURM_NTASKS=2 SLURM_STEP_NUM_TASKS=2 SLURM_LOCALID=0 $TG"
attempt "zsrun --num_proc 2 (a typo)" \
  "exit 2: zsrun: error: unknown option '--num_proc'" "" "$B/zsrun --num_proc 2 true"
attempt "zsrun --nproc_per_node 2 (torchrun's name) on a CPU machine" \
  "exit 2: zsrun: error: unknown option '--nproc_per_node'" "rank|error" "$B/zsrun --nproc_per_node 2 sh -c 'echo rank \$RANK'"
attempt "zsrun --num_procs 2 with no program" \
  "exit 2: zsrun: error: no program to run: zsrun [options] [--] program [args...]" "" "$B/zsrun --num_procs 2"
attempt "zsrun --num_procs 2 nothere" \
  "exit 2: zsrun: error: cannot run 'nothere': no such executable file on PATH" "" "$B/zsrun --num_procs 2 nothere"
attempt "zsrun --num_procs 0 train_gpt" \
  "exit 2: zsrun: error: --num_procs wants a whole number from 1 to 4096, got '0'" "" "$B/zsrun --num_procs 0 $TG"
attempt "--gradient_accumulation_steps=3 on 2 ranks" \
  "exit 0: 3 micro-steps on every rank (6 in all; nanoGPT does 3 in all)" "" "$B/zsrun --num_procs 2 $TG --gradient_accumulation_steps=3"

section "6. Checkpoints"
attempt "resume, \`latest\` missing" \
  "exit 1: train_gpt: error: resume is missing (--init_from is a weights file); with --resume: no checkpoint in ck_nolatest (ck_nolatest/latest does not exist)" \
  "" "$B/train_gpt ${T/--max_iters=2/--max_iters=6} --out_dir=ck_nolatest --init_from=resume 2>&1 | grep -E 'error|newest sound' | tr '\n' ' '"
attempt "resume, \`latest\` names a damaged checkpoint" \
  "exit 1: train_gpt: error: resume is missing; with --resume: ck_damaged/global_step4/rank_0_of_1.safetensors is truncated (...)" \
  "" "$B/train_gpt ${T/--max_iters=2/--max_iters=6} --out_dir=ck_damaged --init_from=resume 2>&1 | grep -E 'error|newest sound' | tr '\n' ' '"
attempt "--resume_tag=global_step2" \
  "exit 109: The following argument was not expected: --resume_tag=global_step2" \
  "resumed|error" "$B/train_gpt ${T/--max_iters=2/--max_iters=6} --out_dir=ck_damaged --resume_tag=global_step2"
attempt "resume from an empty checkpoint folder" \
  "exit 1: train_gpt: error: resume is missing; with --resume: no checkpoint in empty_ck (empty_ck/latest does not exist)" \
  "" "$TG --init_from=resume --out_dir=empty_ck 2>&1 | tr '\\n' ' '"
attempt "a new run into a folder holding another run's checkpoints" \
  "exit 0: saves global_step2 among the other run's checkpoints and moves \`latest\`" "" "$TG --out_dir=ck"
attempt "--out_dir is a file" \
  "exit 1: at the first save: cannot create directory other_run_dir_marker/...: Not a directory" "" "$TG --out_dir=other_run_dir_marker"
attempt "zs_ckpt export-hf ck hf: does it load with from_pretrained?" \
  "exit 0: writes one .safetensors file; no config.json, so from_pretrained cannot load it" \
  "export-hf|error" "$B/zs_ckpt export-hf ck hf2 && ls hf2 | tr '\n' ' '"
attempt "--init_from=hf_out/model.safetensors (a file of an HF folder)" \
  "exit 1: train_gpt: error: hf_out/model.safetensors: a tensor's name or shape differs from the model's (Hugging Face's GPT-2 layout)" \
  "" "$TG --init_from=hf_out/model.safetensors"
attempt "--init_from=ckpt.pt (nanoGPT's checkpoint)" \
  "exit 1: train_gpt: error: ckpt.pt is truncated (0 bytes)" "" "$TG --init_from=ckpt.pt"
attempt "resume with a different --n_layer" \
  "exit 1: resume is missing; with --resume: checkpoint ... has no parameter ... (the model differs from the saved one)" \
  "" "$B/train_gpt ${T/--max_iters=2/--max_iters=6} --out_dir=ck --init_from=resume --n_layer=2"
attempt "zs_ckpt list nothere" "-" "" "$B/zs_ckpt list nothere"

section "7. What a run prints"
attempt "the start of a run: the resolved configuration" \
  "exit 0: no configuration printed (a ZeRO stage line and a batch line only)" \
  "DeepSpeed configuration" "$TG"
attempt "per GPU or per rank: the figures of CPU ranks" \
  "exit 0: [zeroshard] this run, stage 0: per GPU params ... (on CPU ranks too)" "per rank|per GPU" "$TG"

section "8. The README"
attempt "the README's CPU example (scripts/demo.sh's run): seconds and the last val loss" \
  "- (the README's CPU line started an 85M-parameter model for 600,000 iterations)" \
  "" "s=\$(date +%s); o=\$($B/zsrun --num_procs 2 $B/train_gpt '$root/configs/demo_cpu.py' --deepspeed_config='$root/configs/demo_zero2.json' 2>&1); rc=\$?; echo \"\$(( \$(date +%s) - s )) s; \$(grep -o 'step [0-9]*: train loss [0-9.]*, val loss [0-9.]*' <<<\"\$o\" | tail -n 1)\"; exit \$rc"

section "More of the same kind"
attempt "a typo in a top-level key (train_micro_batch_size_per_gpus)" \
  "exit 2: typo_top.json: the batch size is not set: set train_micro_batch_size_per_gpu ... (the typo's warning is never printed)" "" "$TG --deepspeed_config=typo_top.json"
attempt "a typo inside zero_optimization (overlap_com)" \
  "exit 2: zero_optimization.overlap_com: unknown key; did you mean \"overlap_comm\"?" "" "$TG --deepspeed_config=typo_zero.json"
attempt "\"stage\": \"2\" (a string)" \
  "exit 2: zero_optimization.stage must be an integer, got string \"2\"" "" "$TG --deepspeed_config=stage_string.json"
attempt "\"train_batch_size\": \"32\"" \
  "exit 2: train_batch_size must be an integer, got string \"32\"" "" "$TG --deepspeed_config=batch_string.json"
attempt "train_batch_size 0" \
  "exit 2: train_batch_size must be a positive integer (at most 10^9), got 0" "" "$TG --deepspeed_config=batch_zero.json"
attempt "train_micro_batch_size_per_gpu -4" \
  "exit 2: train_micro_batch_size_per_gpu must be a positive integer (at most 10^9), got -4" "" "$TG --deepspeed_config=micro_negative.json"
attempt "train_micro_batch_size_per_gpu 2.5" \
  "exit 2: train_micro_batch_size_per_gpu must be an integer, got number 2.5" "" "$TG --deepspeed_config=float_batch.json"
attempt "a batch triple that does not add up" \
  "exit 2: train_batch_size 32 does not equal train_micro_batch_size_per_gpu 4 * gradient_accumulation_steps 2 * world_size 1 = 8" \
  "" "$TG --deepspeed_config=triple.json"
attempt "optimizer type Adamm" \
  "exit 2: optimizer.type \"Adamm\" is not supported by ZeroShard (supported: Adam, AdamW, SGD); did you mean \"Adam\"?" "" "$TG --deepspeed_config=adamm.json"
attempt "comments and trailing commas" \
  "exit 2: comments.json: invalid JSON: parse error at line 4, column 36: syntax error while parsing object key - unexpected '}'; expected string literal" "error|ZeRO stage" "$TG --deepspeed_config=comments.json"
attempt "a comma missing between two keys" \
  "exit 2: missing_comma.json: invalid JSON: parse error at line 3, column 21: syntax error while parsing object - unexpected string literal; expected '}'" \
  "" "$TG --deepspeed_config=missing_comma.json"
attempt "a JSON array as the config" \
  "exit 2: the config must be a JSON object ({...}), got array ..." "" "$TG --deepspeed_config=array.json"
attempt "an empty config file" \
  "exit 2: invalid JSON: parse error at line 1, column 1: syntax error while parsing value - unexpected end of input" "" "$TG --deepspeed_config=empty.json"
attempt "a config path that does not exist" \
  "exit 2: train_gpt: config error: cannot open config file nothere.json" "" "$TG --deepspeed_config=nothere.json"
attempt "fp16 and bf16 both enabled" \
  "exit 2: fp16.enabled and bf16.enabled are both true; enable at most one of them" "" "$TG --deepspeed_config=both_precisions.json"
attempt "zero_optimization.stage 4" \
  "exit 2: zero_optimization.stage must be 0, 1, 2 or 3, got 4" "" "$TG --deepspeed_config=stage4.json"
attempt "offload_optimizer device \"gpu\"" \
  "exit 2: zero_optimization.offload_optimizer.device must be \"none\", \"cpu\" or \"nvme\", got \"gpu\"" "" "$TG --deepspeed_config=offload_gpu.json"
attempt "scheduler type CosineLR" \
  "exit 2: scheduler.type \"CosineLR\" is not supported by ZeroShard (supported: WarmupLR, WarmupDecayLR, WarmupCosineLR, OneCycle)" "" "$TG --deepspeed_config=cosine.json"
attempt "--data=nothere.txt" \
  "exit 1: train_gpt: error: data path 'nothere.txt' does not exist" "" "$TG --data=nothere.txt"
attempt "--max_iter=10 (a typo)" \
  "exit 109: The following argument was not expected: --max_iter=10" "" "$TG --max_iter=10"
attempt "--n_layer=abc" \
  "exit 104: Could not convert: --n_layer = abc" "" "$TG --n_layer=abc"
attempt "--batch_size=0" \
  "exit 2: train_micro_batch_size_per_gpu must be a positive integer (at most 10^9), got 0" "" "$TG --batch_size=0"
attempt "--learning_rate=-1" \
  "exit 2: optimizer.params.lr must be at least 0, got -1" "" "$TG --learning_rate=-1"
attempt "--dtype=fp8" \
  "exit 105: --dtype: fp8 not in {auto,float32,bfloat16,float16}" "" "$TG --dtype=fp8"
attempt "--device=cuda:1" \
  "exit 105: --device: cuda:1 not in {auto,cpu,cuda}" "" "$TG --device=cuda:1"
attempt "--device=cuda on a machine without a GPU" \
  "exit 1: train_gpt: error: no CUDA device ..." "" "$B/train_gpt ${T/--device=cpu/--device=cuda}"
attempt "--backend=gloo" \
  "exit 109: The following argument was not expected: --backend=gloo" "" "$TG --backend=gloo"
attempt "--help" \
  "exit 0: CLI11's option list" "" "$B/train_gpt --help"
