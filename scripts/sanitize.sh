#!/usr/bin/env bash
# Builds the CPU test suite with AddressSanitizer and UndefinedBehaviorSanitizer (g++, in
# build-asan/) and runs it with ctest. A sanitizer report stops the program that made it (UBSan
# does not recover), so the test that ran it fails with the report in its output.
#   scripts/sanitize.sh [ctest arguments...]      e.g.  scripts/sanitize.sh -R Config
# Environment (ZS_BUILD_DIR, ZS_JOBS=2, ZS_TEST_JOBS=2 override the defaults). Set here and passed
# on to every rank (zsrun -> mpirun -> ranks inherit it):
#   ASAN_OPTIONS   leak detection on (at exit of every program and rank); LSAN_OPTIONS points at
#                  scripts/sanitize/lsan.supp, which only names OpenMPI's own libraries (MPI_Init's
#                  one-time allocations that MPI_Finalize leaves): a leak whose allocation stack
#                  passes through our code and not through those libraries is always reported.
#   UBSAN_OPTIONS  stack traces; every check is fatal (-fno-sanitize-recover=all).
#   OMPI_MCA_memory=^patcher  OpenMPI's malloc/munmap hooks off: they fight ASan's own interceptors.
#   ZS_TEST_TIME_SCALE=4  the tests' own time limits (how long a run may take, a hang found within
#                  N s) are 4 times longer: a sanitized program runs 2-10x slower, and two tests run at
#                  once (tests/support/time_scale.hpp). ctest's per-test limit is 3600 s in this build.
#   Across nodes (the emulated cluster's tests) zsrun carries LD_PRELOAD and the *SAN_OPTIONS to the
#   ranks of every node, as it carries NCCL_* and ZS_*.
#   LD_PRELOAD     scripts/sanitize/keep_modules.c (built here): dlclose does nothing, so OpenMPI's
#                  plugins are still mapped when LeakSanitizer reports at exit and the suppressions
#                  can name them; with it, allocation stacks are unwound the slow, exact way
#                  (fast_unwind_on_malloc=0: OpenMPI's libraries have no frame pointers).
#   intercept_tls_get_addr=0  g++ 12's sanitizer runtime guesses the bounds of a dynamic TLS block
#                  from a glibc 2.19 header whenever the block's address is 16 mod 4096; an ASan heap
#                  block can be, and then LeakSanitizer scans a garbage range at exit and its tracer
#                  dies ("Tracer caught signal 11", the checkpoint tests: ckpt_tiny's main thread,
#                  "DTLS 14 at 0xc505a-0x4000c615c"; google/sanitizers#1322). Without the interception
#                  dynamic TLS blocks are ordinary heap blocks reachable from each thread's DTV, so a
#                  pointer held only there is still not a leak, and leaks are still all reported.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ZS_BUILD_DIR:-$root/build-asan}
jobs=${ZS_JOBS:-2}

# LibTorch and the Debian packages: what setup.sh installs (without building the normal tree).
torch_root=${ZS_TORCH_ROOT:-}
if [ -z "$torch_root" ]; then
  if [ -f "$root/.deps/libtorch/.complete" ]; then
    torch_root=$root/.deps/libtorch
  else
    echo "[sanitize] no LibTorch yet: run scripts/setup.sh once (or set ZS_TORCH_ROOT)" >&2
    exit 1
  fi
fi

echo "[sanitize] configuring $build (g++, -fsanitize=address,undefined)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZS_TORCH_ROOT="$torch_root" \
  -DZS_CUDA=OFF -DZS_SANITIZE=address,undefined >/dev/null
echo "[sanitize] building with $jobs jobs"
cmake --build "$build" -j "$jobs"

keep_modules=$build/keep_modules.so
cc -shared -fPIC -O2 -o "$keep_modules" "$root/scripts/sanitize/keep_modules.c"
export LD_PRELOAD=$keep_modules
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:fast_unwind_on_malloc=0:verify_asan_link_order=0:intercept_tls_get_addr=0
export LSAN_OPTIONS=suppressions=$root/scripts/sanitize/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMPI_MCA_memory=^patcher
export ZS_TEST_TIME_SCALE=${ZS_TEST_TIME_SCALE:-4}
# A sanitized rank is 2-3x slower: give each collective more time before it counts as a hang.
export ZS_COMM_TIMEOUT=${ZS_COMM_TIMEOUT:-1200}
cd "$build"
echo "[sanitize] running the tests"
ctest --output-on-failure -j "${ZS_TEST_JOBS:-2}" --timeout 1800 "$@"
