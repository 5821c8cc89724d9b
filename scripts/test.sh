#!/usr/bin/env bash
# The README's second command. Installs what is missing, builds, and runs every test: unit tests
# and multi-process tests that start real ranks through zsrun with real MPI collectives.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" "$root/build"
# The cluster tests (tests/test_multinode.cpp: hosts made of network namespaces with sshd;
# tests/test_slurm.cpp: a real SLURM) need iproute2, openssh-server and SLURM's packages. A machine
# where they can be installed (root, apt) gets them, their services kept from starting; elsewhere
# those tests are skipped, saying why. ZS_CLUSTER_TESTS=0 never installs them.
if [ "${ZS_CLUSTER_TESTS:-auto}" != 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  "$root/scripts/fake_cluster.sh" install && "$root/scripts/local_slurm.sh" install ||
    echo "[test] could not install the cluster tests' packages; those tests will be skipped"
fi
cd "$root/build"
ctest --output-on-failure -j "${ZS_TEST_JOBS:-2}" --timeout 900
