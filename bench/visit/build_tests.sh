# bench/gpu_visit.sh steps: the build, the host, the GPU tests and the kernel tests.
# Sourced by gpu_visit.sh, which defines has, note, ds_setup, $B, $PY, $NGPU, $OUT and $results.
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
if has tests; then
  note "GPU tests"
  ( cd $B && ZS_COMM_TIMEOUT=60 timeout 400 ./bin/test_gpu_equivalence_cuda 2>&1 ) > "$OUT/gpu_tests.log"
  echo "gpu_equivalence rc=$?" >> "$OUT/gpu_tests.log"
  grep -E "gpu equivalence|gpu nvme|gpu optimizer kinds|OK|FAILED|rc=" "$OUT/gpu_tests.log" | tail -26
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
  for t in ${KERNEL_TESTS:-test_llama_rope_cuda test_swiglu_cuda test_fused_adam_cuda test_cross_entropy_cuda test_norm_bias_cuda test_gelu_cuda test_grad_norm_cuda}; do
    ( cd $B && timeout 120 ./bin/$t 2>&1 ) > "$OUT/$t.log"
    echo "$t rc=$?" | tee -a "$OUT/gpu_tests.log"
    grep -E "PASSED|FAILED|tests ran|\[fused adam\]|\[cross entropy\] forward|\[norm bias\]|\[gelu\]|\[squared norm\]" "$OUT/$t.log" | tail -32
  done
fi
