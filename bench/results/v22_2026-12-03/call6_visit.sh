#!/usr/bin/env bash
# Lion and Adagrad on the GPU: the new GPU test, then GPT-2 124M bench steps with each optimizer.
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
ZS_TARGETS="test_gpu_equivalence_cuda train_tiny zsrun train_gpt" OUT="$O/b" bash bench/gpu_visit.sh build > "$O/build.txt" 2>&1
tail -1 "$O/build.txt"
[ -x build-gpu/bin/test_gpu_equivalence_cuda ] || { grep -E "error" -A5 "$O/b/build.log" | head -60; exit 1; }
( cd build-gpu && ZS_COMM_TIMEOUT=60 timeout 200 ./bin/test_gpu_equivalence_cuda --gtest_filter='GpuOptimizerKinds.*:GpuNvmeOffload.*' 2>&1 ) > "$O/gpu_tests.log"
echo "gpu tests rc=$?"; grep -E "\[gpu |OK \]|FAILED|PASSED|Failure|Expected|actual" "$O/gpu_tests.log" | head -20
