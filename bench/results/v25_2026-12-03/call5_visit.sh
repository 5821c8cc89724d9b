#!/usr/bin/env bash
# Visit 50 (one H200): every one-GPU case of test_gpu_equivalence_cuda at the current code, first of
# all the offloaded Lion/Adagrad (their CPU loops, ee183f9) against the same optimizers on the device.
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
O=${OUT:-/tmp/zs_out}; mkdir -p "$O"
T0=$(date +%s)
ZS_TARGETS="test_gpu_equivalence_cuda train_tiny zsrun" OUT=/tmp/b bash bench/gpu_visit.sh build > /tmp/build.txt 2>&1
echo "build $(( $(date +%s) - T0 )) s"; [ -x build-gpu/bin/test_gpu_equivalence_cuda ] || { grep -E "error" -A5 /tmp/b/build.log | head -40; exit 1; }
( cd build-gpu && ZS_COMM_TIMEOUT=60 timeout 300 ./bin/test_gpu_equivalence_cuda \
    --gtest_filter='GpuOptimizerKinds.*:GpuSuperOffload.*:GpuOffloadRatio.*:GpuActivationCheckpoint.*:GpuStage3.*:GpuNvmeOffload.*' 2>&1 ) > "$O/gpu_tests.log"
echo "gpu tests rc=$?"; grep -E "OK \]|FAILED|PASSED|SKIPPED|Failure|tests ran|gpu optimizer kinds" "$O/gpu_tests.log" | head -30
echo "end $(( $(date +%s) - T0 )) s"
