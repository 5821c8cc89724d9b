#!/usr/bin/env bash
# One visit to the lent GPU machine: build with its own LibTorch/CUDA/NCCL, run the GPU tests,
# then the benchmarks side by side with PyTorch on the same GPUs, and print a table last.
#
#   bench/gpu_visit.sh [build] [tests] [shakespeare] [shakespeare_torch] [gpt2] [stage3] [probe3] [offload] [scale]
#     [multinode] [gpt_regress] [llama] [llama_ds] [llama_profile] [llama_offload] [llama_super_offload] [llama_load] [monitors] [images]
#     [cnn_logits] [cnn] [cnn_ds] [cnn_train] [kernels] [llama_offload_profile] [llama_offload_tune] [zeropp] [small] [startup] [ce_ab] [graphs] [big_ab] [ln_ab]   (default: build tests shakespeare gpt2;
#   shakespeare_torch is the PyTorch half of shakespeare alone, llama_ds the DeepSpeed half of llama;
#   SHAKESPEARE_FLAGS adds train_gpt flags to the recipe, e.g. --cuda_graph=True)
#
# ZS_TARGETS="bench_llama zsrun ..." builds only those targets (default: everything); a step needs
# the programs it runs among them (zsrun for every multi-GPU step, bench_gpt, train_gpt, tests...).
# Needs .deps/include (nlohmann, CLI11), .deps/googletest and .deps/liburing carried
# along: scripts/prepare_gpu_carry.sh makes them. Logs and JSON results go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export OUT=${OUT:-/tmp/zs_out}
mkdir -p "$OUT"
steps=${*:-build tests shakespeare gpt2}
PY=$(command -v python3)
[ -x /opt/torch/.venv/bin/python3 ] && PY=/opt/torch/.venv/bin/python3
export PATH="$(dirname "$PY"):$PATH"
TORCH_ROOT=$("$PY" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
NGPU=$(nvidia-smi -L | wc -l)
B=build-gpu
results="$OUT/results.jsonl"
: > "$results"
note() { echo "== $*" | tee -a "$OUT/visit.log"; }
# DeepSpeed 0.19.8 from the carried wheels (.deps/deepspeed, a copy of ../shared/bench/deepspeed):
# installed and its ops JIT-built once per visit by its own script, run with no cases.
ds_setup() {
  [ -f .deps/deepspeed/ds_visit.sh ] || { note "no .deps/deepspeed carried: DeepSpeed runs skipped"; return 1; }
  if [ ! -f /tmp/site/.ds_stamp ]; then DS_CASES=" " OUT="$OUT/ds" bash .deps/deepspeed/ds_visit.sh > "$OUT/ds_setup.log" 2>&1; fi
  export PYTHONPATH=/tmp/site TORCH_EXTENSIONS_DIR=/tmp/ds_torch_extensions TORCH_CUDA_ARCH_LIST=9.0 DS_SKIP_CUDA_CHECK=1
  export OMP_NUM_THREADS=$(( $(nproc) / NGPU ))
  [ -f /tmp/site/.ds_stamp ]
}
has() { [[ " $steps " == *" $1 "* ]]; }

note "GPUs: $NGPU ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)); torch at $TORCH_ROOT"
if has build; then
  note "build"
  t0=$(date +%s)
  cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DZS_TORCH_ROOT="$TORCH_ROOT" -DZS_CUDA=ON \
    > "$OUT/build.log" 2>&1 && cmake --build $B -j "$(nproc)" ${ZS_TARGETS:+--target $ZS_TARGETS} -- -k 0 >> "$OUT/build.log" 2>&1
  rc=$?
  note "build rc=$rc in $(( $(date +%s) - t0 )) s"
  # A target that fails to build is shown; the visit goes on while the programs it runs exist.
  if [ $rc != 0 ]; then grep -E "error|Error" -A5 "$OUT/build.log" | head -60; fi
  # The programs the steps run must exist: those named in ZS_TARGETS, else the launcher and benches.
  for t in ${ZS_TARGETS:-zsrun bench_gpt bench_llama}; do
    [ -n "$(find $B/bin -maxdepth 2 -name "$t" -type f -perm -u+x)" ] || { note "build: $t was not built"; exit 1; }
  done
fi

if has host; then
  note "host: CPUs, NUMA nodes, memory, disk"
  { lscpu | grep -E "Model name|^CPU\(s\)|Socket|NUMA|Thread|L3"; free -g | head -2; df -h /tmp | tail -1
    ls -d /sys/devices/system/node/node* 2>/dev/null; cat /sys/devices/system/node/node*/cpulist 2>/dev/null
    command -v numactl && numactl -H; } 2>&1 | tee "$OUT/host.txt"
fi

if has images; then
  # The image loader on this host's cores: stb decodes/s and the training/eval batches it hands over
  # per thread count, on 500x375 JPEGs it writes first; against what ResNet-50 consumes per GPU.
  note "images: loader throughput per thread count"
  threads="1,2,4,8,16"; [ "$(nproc)" -gt 16 ] && threads="$threads,$(nproc)"
  $B/bin/bench_image_loader --dir /tmp/zs_bench_jpegs --images 2048 --batch 128 \
    --threads "$threads" --seconds 3 2>&1 | tee "$OUT/image_loader.txt"
fi

if has cnn_logits; then
  # torchvision's eval logits on this GPU in fp32 and bf16 (tests/cnn/cnn_reference.py), then ours from
  # the same weights on the same GPU (tests/test_cnn_models_cuda.cpp states the tolerances).
  note "CNN logits: ours vs torchvision on one GPU, fp32 and bf16"
  for p in fp32 bf16; do
    "$PY" tests/cnn/cnn_reference.py make /tmp/cnn_cuda/$p --device cuda --dtype $p --image-size 224 \
      > "$OUT/cnn_reference_$p.log" 2>&1 || note "cnn_reference.py $p failed (log: cnn_reference_$p.log)"
  done
  ZS_CNN_CUDA_REFERENCES=/tmp/cnn_cuda timeout 300 $B/bin/test_cnn_models_cuda > "$OUT/cnn_logits.log" 2>&1
  echo "test_cnn_models_cuda rc=$?" >> "$OUT/cnn_logits.log"
  grep -E "\[cnn cuda\]|PASSED|FAILED|rc=" "$OUT/cnn_logits.log"
fi

if has cnn; then
  # 224x224 bf16 channels-last synthetic images, batch 128 per GPU, SGD: ours at stages 1-3 against
  # torchvision's same model under DDP eager (bf16 autocast), and DeepSpeed at stages 1-3 (cnn_ds).
  note "CNNs: images/s per GPU, $NGPU GPUs, ours at ZeRO-1/2/3 vs DDP eager"
  for m in ${CNN_MODELS:-resnet50 mobilenet_v2 efficientnet_b0}; do
    timeout 200 torchrun --nproc_per_node "$NGPU" bench/cnn_reference.py --model $m --strategy ddp \
      2>> "$OUT/torch_cnn.err" | tee -a "$results"
    for s in 1 2 3; do
      timeout 200 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/bench_cnn --model $m --stage $s 2>> "$OUT/zs_cnn.err" \
        | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
    done
  done
fi
if has cnn_train; then
  # train_cnn itself on the GPUs: ResNet-50, ZeRO-3, bf16, channels-last, synthetic 224x224 images decoded
  # by the loader's threads, step lines with images/s, evaluations with top-1/top-5.
  note "train_cnn: ResNet-50, fsdp_stage3, $NGPU GPUs, synthetic images"
  timeout 240 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/train_cnn --model-type resnet50 --strategy fsdp_stage3 \
    --data synthetic --batch-size 128 --max-iters 30 --eval_interval 30 --eval_iters 2 --log_interval 10 \
    --dtype bfloat16 --workers $(( $(nproc) / NGPU )) > "$OUT/train_cnn.log" 2>&1
  echo "train_cnn rc=$?" >> "$OUT/train_cnn.log"
  grep -vE "^\[rank 0\] \[zeroshard\]   " "$OUT/train_cnn.log" | tail -14
fi
if has cnn_ds; then
  note "CNNs: DeepSpeed ZeRO-1/2/3 on torchvision's models, $NGPU GPUs"
  if ds_setup; then
    for m in ${CNN_MODELS:-resnet50 mobilenet_v2 efficientnet_b0}; do
      for s in 1 2 3; do
        timeout 200 torchrun --nproc_per_node "$NGPU" bench/cnn_reference.py --model $m --strategy deepspeed --stage $s \
          2>> "$OUT/ds_cnn.err" | tee -a "$results"
      done
    done
  fi
fi

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

if has tests; then
  note "GPU tests"
  ( cd $B && ZS_COMM_TIMEOUT=60 timeout 400 ./bin/test_gpu_equivalence_cuda 2>&1 ) > "$OUT/gpu_tests.log"
  echo "gpu_equivalence rc=$?" >> "$OUT/gpu_tests.log"
  grep -E "gpu equivalence|OK|FAILED|rc=" "$OUT/gpu_tests.log" | tail -20
  if [ -x $B/bin/tests/dist_probe ]; then
    timeout 120 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/tests/dist_probe --device cuda > "$OUT/dist_probe.log" 2>&1
    echo "dist_probe (NCCL, $NGPU GPUs) rc=$?" | tee -a "$OUT/gpu_tests.log"
    tail -5 "$OUT/dist_probe.log"
  fi
  # ZeRO++'s foundations: the quantizer's kernels against its CPU loops, bit for bit, the quantized
  # collectives over NCCL, and communicator groups with all_to_all over NCCL.
  ( cd $B && ZS_COMM_TIMEOUT=60 timeout 300 ./bin/test_block_quantizer_cuda 2>&1 ) > "$OUT/quantizer_cuda.log"
  echo "test_block_quantizer_cuda rc=$?" | tee -a "$OUT/gpu_tests.log"
  grep -E "\[quantized\]|PASSED|FAILED" "$OUT/quantizer_cuda.log" | tail -30
  if [ -x $B/bin/tests/group_probe ]; then
    timeout 120 $B/bin/zsrun --num_gpus "$NGPU" $B/bin/tests/group_probe --device cuda > "$OUT/group_probe.log" 2>&1
    echo "group_probe (NCCL, $NGPU GPUs) rc=$?" | tee -a "$OUT/gpu_tests.log"
    tail -4 "$OUT/group_probe.log"
  fi
fi

if has kernels; then
  # Our fused CUDA kernels against the ATen formulas they replace, on the GPU.
  note "fused kernels vs ATen"
  for t in ${KERNEL_TESTS:-test_llama_rope_cuda test_swiglu_cuda test_fused_adam_cuda test_cross_entropy_cuda test_norm_bias_cuda}; do
    ( cd $B && timeout 120 ./bin/$t 2>&1 ) > "$OUT/$t.log"
    echo "$t rc=$?" | tee -a "$OUT/gpu_tests.log"
    grep -E "PASSED|FAILED|tests ran|\[fused adam\]|\[cross entropy\] forward|\[norm bias\]" "$OUT/$t.log" | tail -32
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

if has multinode; then
  # Issue 12 on 2 GPUs. (1) GPT-2 350M stage 2, 1 node x 2 GPUs against 2 "nodes" x 1 GPU: two
  # node-local zsruns (--no_ssh; the loopback addresses 127.0.0.2/.3 as hosts), NCCL kept to sockets
  # (no P2P, no shared memory), so the ranks talk as across machines; tok/s/GPU of both. (2) A GPU rank
  # killed mid-step, and one stopped (SIGSTOP: the watchdog aborts the NCCL communicators): seconds
  # until every rank is gone, exit code, zsrun's summary.
  note "multi-node: GPT-2 350M stage 2, 1x2 GPUs vs 2x1 GPU over sockets; GPU rank killed / stopped mid-step"
  mn=$OUT/multinode; mkdir -p "$mn"
  printf '127.0.0.2 slots=1\n127.0.0.3 slots=1\n' > "$mn/hostfile"
  timeout 300 $B/bin/zsrun --num_gpus 2 $B/bin/bench_gpt --model 350M --stage 2 --label "1 node x 2 GPUs" \
    2>> "$mn/one_node.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
  for node in 0 1; do
    # Node 1 sees GPU 1 as its only device (CUDA_VISIBLE_DEVICES), as on a machine of its own.
    CUDA_VISIBLE_DEVICES=$node NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 NCCL_SOCKET_IFNAME=lo timeout 300 \
      $B/bin/zsrun --hostfile "$mn/hostfile" --no_ssh --node_rank $node --master_port 29720 \
      $B/bin/bench_gpt --model 350M --stage 2 --label "2 nodes x 1 GPU, sockets" > "$mn/node$node.log" 2>&1 &
  done
  wait
  sed 's/^\[127.0.0.2 rank 0\] //' "$mn/node0.log" | grep '^{' | tee -a "$results"
  grep -E "error|Error" "$mn"/node*.log | head -5
  gpu_fault() {  # gpu_fault SIGNAL: signal rank 1 after 3 timed steps; seconds until every rank is gone
    ZS_FAULT_RUN=gpu$1 $B/bin/zsrun --num_gpus 2 $B/bin/bench_gpt --model 350M --stage 2 --warmup 2 --steps 100000 \
      > "$mn/fault_$1.log" 2>&1 &
    local zs=$! pids="" t0 t1 p
    for _ in $(seq 600); do
      pids=$(for p in $(pgrep -x bench_gpt); do tr '\0' '\n' < /proc/$p/environ | grep -qx ZS_FAULT_RUN=gpu$1 && echo $p; done)
      [ "$(echo $pids | wc -w)" -ge 2 ] && grep -q "step 5" "$mn/fault_$1.log" && break
      sleep 0.2
    done
    victim=$(for p in $pids; do tr '\0' '\n' < /proc/$p/environ | grep -qx RANK=1 && echo $p; done)
    t0=$(date +%s%N); kill -$1 $victim; wait $zs; rc=$?
    while for p in $pids; do [ -e /proc/$p ] && [ "$(cut -d' ' -f3 /proc/$p/stat)" != Z ] && echo x; done | grep -q x; do sleep 0.1; done
    t1=$(date +%s%N)
    echo "GPU rank 1 $1: every rank gone after $(( (t1 - t0) / 1000000 )) ms, exit code $rc: $(grep '^zsrun' "$mn/fault_$1.log" | tail -1)" \
      | tee -a "$OUT/visit.log"
  }
  gpu_fault KILL
  gpu_fault STOP
fi

if has zeropp; then
  # ZeRO++ over sockets (issue 15): GPT-2 1.5B, stage 3, bf16, on 2 "nodes" of one GPU each (two
  # node-local zsruns as in the multinode step, NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 over loopback),
  # plain and with each of qwZ, qgZ, hpZ and all three; tok/s of each. With one GPU per node qgZ runs
  # its single int8 hop (its two-hop form needs several ranks per node), and hpZ 2 spans both
  # "nodes" (its group is then the world: it exercises the path but cannot keep traffic on a node);
  # on one node of 2 GPUs (sockets still) the hpZ group is the node. The comms_logger run of the
  # plain case gives the link's measured bus bandwidth (all_gather rows).
  note "ZeRO++: GPT-2 1.5B stage 3 over sockets, 2 nodes x 1 GPU, plain / qwZ / qgZ / hpZ / all"
  zp=$OUT/zeropp; mkdir -p "$zp"
  printf '127.0.0.2 slots=1\n127.0.0.3 slots=1\n' > "$zp/hostfile"
  zeropp_run() {  # zeropp_run LABEL PORT [bench_gpt flags...]: both nodes, rank 0's JSON line
    local label=$1 port=$2; shift 2
    for node in 0 1; do
      CUDA_VISIBLE_DEVICES=$node NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 NCCL_SOCKET_IFNAME=lo timeout 400 \
        $B/bin/zsrun --hostfile "$zp/hostfile" --no_ssh --node_rank $node --master_port $port \
        $B/bin/bench_gpt --model 1.5B --stage 3 --micro 4 --warmup 2 --steps 6 --label "$label" "$@" \
        > "$zp/$label.node$node.log" 2>&1 &
    done
    wait
    sed 's/^\[127.0.0.2 rank 0\] //' "$zp/$label.node0.log" | grep '^{' | tee -a "$results"
    grep -E "error|Error" "$zp/$label".node*.log | head -5
  }
  zeropp_run "zeropp plain, 2x1 sockets" 29731
  zeropp_run "zeropp qwZ, 2x1 sockets" 29732 --quantized_weights
  zeropp_run "zeropp qgZ, 2x1 sockets" 29733 --quantized_gradients
  zeropp_run "zeropp hpZ 2, 2x1 sockets" 29734 --hpz 2
  zeropp_run "zeropp qwZ+qgZ+hpZ, 2x1 sockets" 29735 --quantized_weights --quantized_gradients --hpz 2
  zeropp_run "zeropp plain with comms_logger, 2x1 sockets" 29736 --monitors "$zp/monitors"
  grep -A12 -i "all_gather" "$zp/zeropp plain with comms_logger, 2x1 sockets.node0.log" | head -14 | tee -a "$OUT/visit.log"
  # One node of 2 GPUs over sockets: hpZ's group is the node; and the NVLink cost of each when on.
  for extra in "" "--quantized_weights" "--quantized_gradients" "--hpz 2" "--quantized_weights --quantized_gradients --hpz 2"; do
    NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 timeout 400 $B/bin/zsrun --num_gpus 2 $B/bin/bench_gpt --model 1.5B --stage 3 \
      --micro 4 --warmup 2 --steps 6 --label "zeropp ${extra:-plain}, 1x2 sockets" $extra 2>> "$zp/one_node.err" \
      | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
    timeout 400 $B/bin/zsrun --num_gpus 2 $B/bin/bench_gpt --model 1.5B --stage 3 --micro 4 --warmup 2 --steps 6 \
      --label "zeropp ${extra:-plain}, 1x2 NVLink" $extra 2>> "$zp/nvlink.err" | sed 's/^\[rank 0\] //' | grep '^{' | tee -a "$results"
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

note "summary"
"$PY" bench/summarize.py "$results" "$OUT/shakespeare.log" | tee "$OUT/summary.md"

# The device tool brings back 8 files at most (16 MiB each): every log in one archive, beside the
# summary, the JSON results and the visit log; traces stay out of the archive if it grows too big.
( cd "$OUT" && tar czf /tmp/visit_logs.tgz --exclude=logs.tgz . \
    && { [ "$(stat -c %s /tmp/visit_logs.tgz)" -lt 15000000 ] || tar czf /tmp/visit_logs.tgz --exclude=logs.tgz --exclude='trace_*' .; } \
    && find . -mindepth 1 -maxdepth 1 ! -name summary.md ! -name results.jsonl ! -name visit.log -exec rm -rf {} + \
    && mv /tmp/visit_logs.tgz logs.tgz )
