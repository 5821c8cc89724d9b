# bench/gpu_visit.sh steps: the CNN steps: image loading, torchvision logits, training beside DDP and DeepSpeed.
# Sourced by gpu_visit.sh, which defines has, note, ds_setup, $B, $PY, $NGPU, $OUT and $results.
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
