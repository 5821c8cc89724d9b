#!/usr/bin/env bash
# The installed package as a user meets it: installs this build into a fresh prefix, configures and
# builds examples/consumer (an out-of-tree project using find_package(zeroshard)) against that prefix
# alone, and trains it on 2 CPU ranks through the installed zsrun. The loss must fall.
#   tests/install_consumer.sh <build dir> <work dir> [cmake arguments for the consumer...]
# The work dir is emptied first and kept afterwards (install.log, configure.log, build.log, train.log).
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(realpath -m "$2")
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
for f in lib/cmake/zeroshard/zeroshardConfig.cmake lib/cmake/zeroshard/zeroshardConfigVersion.cmake \
         include/zs/engine/engine.hpp include/zs/version.hpp bin/zsrun bin/train_gpt bin/zs_ckpt; do
  [ -e "$prefix/$f" ] || fail "$f was not installed"
done
# The package holds no path into the source or build tree (LibTorch may live in .deps/libtorch).
if grep -rn -e "$build" -e "$root/src" -e "$root/.deps/include" -e "$root/.deps/liburing" "$prefix/lib/cmake/zeroshard"; then
  fail "the installed package refers to the source or build tree (lines above)"
fi

# The README shows the example's files as they are.
for f in CMakeLists.txt main.cpp; do
  python3 -c 'import sys; sys.exit(open(sys.argv[1]).read() not in open(sys.argv[2]).read())' \
    "$root/examples/consumer/$f" "$root/README.md" || fail "README.md does not show examples/consumer/$f as it is"
done

# Configure against the prefix only: no package registry, nothing of the build tree.
cmake -S "$root/examples/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF "$@" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; fail "configuring the consumer"; }
grep -q "zeroshard_DIR:PATH=$prefix/lib/cmake/zeroshard" "$work/consumer/CMakeCache.txt" ||
  fail "the consumer did not find the package in $prefix"
cmake --build "$work/consumer" -j 2 >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "building the consumer"; }

# ZS_CONSUMER_LAUNCH: zsrun's options (a GPU build checks with "--num_gpus 2").
"$prefix/bin/zsrun" ${ZS_CONSUMER_LAUNCH:---num_procs 2} "$work/consumer/my_trainer" "$root/examples/consumer/ds_config.json" 2>&1 |
  tee "$work/train.log" || fail "the consumer's training run failed"
# "my_trainer: loss 4.2 -> 2.1 in 40 steps"
read -r first last < <(sed -n 's/.*my_trainer: loss \([0-9.eE+-]*\) -> \([0-9.eE+-]*\) in.*/\1 \2/p' "$work/train.log") ||
  fail "no final loss line in the output"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.8 * a) }' || fail "the loss did not fall ($first -> $last)"
echo "PASS: installed, built out of tree, trained on 2 ranks (loss $first -> $last)"
