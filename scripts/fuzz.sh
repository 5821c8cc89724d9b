#!/usr/bin/env bash
# Fuzzes the readers of files a user hands us, with libFuzzer (clang-14) under ASan + UBSan:
#   config             the DeepSpeed config reader: parse_config on arbitrary bytes
#   checkpoint_index   a checkpoint's index.json (parse_checkpoint_index; accepted ones must round-trip)
#   safetensors        a safetensors file: header length, JSON header, then reads of every tensor
#   nanogpt_config     a nanoGPT-style config file (`train_gpt config/x.py`): parse_config_file
# Usage: scripts/fuzz.sh [config|checkpoint_index|safetensors|nanogpt_config|all] [seconds per target, default 60]
#                        [more libFuzzer flags...]
# Builds build-fuzz/ (the readers' own files only: a minute or two), seeds each target's corpus from
# the repo (configs/, the configs in tests/, examples/, fuzz/seeds/) and a dictionary of the key
# names in the reader's sources, then runs the targets one after another and prints per target: time,
# executions, coverage (edges) and features, corpus size and findings.
# The corpora stay in build-fuzz/corpus/<target> (a later run continues from them); a crash, hang
# (-timeout, 10 s per input), leak or out-of-memory lands in build-fuzz/findings/<target>/, and
#   build-fuzz/fuzz/fuzz_<target> <file>
# replays it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ZS_BUILD_DIR:-$root/build-fuzz}
which=${1:-all}
seconds=${2:-60}
shift $(( $# > 2 ? 2 : $# ))
targets=(config checkpoint_index safetensors nanogpt_config)
[ "$which" = all ] || targets=("$which")
for t in "${targets[@]}"; do
  case $t in config|checkpoint_index|safetensors|nanogpt_config) ;;
    *) echo "unknown target $t (config, checkpoint_index, safetensors, nanogpt_config, all)" >&2; exit 2 ;; esac
done

# clang with libFuzzer: Debian's clang-14 and libclang-rt-14-dev.
cxx=${ZS_FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || true)}
if [ -z "$cxx" ] || ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
     "$cxx" -x c++ -fsanitize=fuzzer,address,undefined - -o /dev/null 2>/dev/null; then
  echo "[fuzz] needs clang with libFuzzer: apt-get install clang-14 libclang-rt-14-dev" >&2
  exit 1
fi
torch_root=${ZS_TORCH_ROOT:-$root/.deps/libtorch}
[ -f "$torch_root/include/ATen/ATen.h" ] || { echo "[fuzz] no LibTorch: run scripts/setup.sh once (or set ZS_TORCH_ROOT)" >&2; exit 1; }

echo "[fuzz] building in $build ($cxx, ASan + UBSan + libFuzzer)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DZS_TORCH_ROOT="$torch_root" -DZS_CUDA=OFF -DZS_SANITIZE=address,undefined -DZS_FUZZ=ON >/dev/null
cmake --build "$build" -j "${ZS_JOBS:-2}" --target $(printf 'fuzz_%s ' "${targets[@]}")

# Seeds and dictionaries, rebuilt each time from the repo.
python3 - "$root" "$build/seeds" <<'PY'
import glob, os, re, sys
root, out = sys.argv[1], sys.argv[2]
def write(target, name, data):
    os.makedirs(f"{out}/{target}", exist_ok=True)
    with open(f"{out}/{target}/{name}", "wb") as f:
        f.write(data)
# config: every JSON config of the repo and every raw-string config literal in the tests.
for path in glob.glob(f"{root}/configs/*.json") + glob.glob(f"{root}/examples/**/*.json", recursive=True):
    write("config", os.path.basename(path), open(path, "rb").read())
n = 0
for path in glob.glob(f"{root}/tests/**/*.[ch]pp", recursive=True):
    for m in re.finditer(r'R"([^(\s]*)\((.*?)\)\1"', open(path, encoding="utf-8").read(), re.S):
        if m.group(2).lstrip().startswith("{"):
            write("config", f"test_{n:04d}.json", m.group(2).encode()); n += 1
for target in ("checkpoint_index", "safetensors"):
    for path in glob.glob(f"{root}/fuzz/seeds/{target}/*"):
        write(target, os.path.basename(path), open(path, "rb").read())
# nanogpt_config: the repo's nanoGPT-style config files.
for path in glob.glob(f"{root}/configs/*.py"):
    write("nanogpt_config", os.path.basename(path), open(path, "rb").read())
# Dictionaries: the string literals of each reader's sources (key names, dtypes, values) and JSON's tokens.
sources = {"config": glob.glob(f"{root}/src/zs/config/*.cpp"),
           "checkpoint_index": [f"{root}/src/zs/ckpt/checkpoint_index.cpp"],
           "safetensors": [f"{root}/src/zs/ckpt/safetensors.cpp"]}
for target, files in sources.items():
    words = set()
    for path in files:
        words.update(re.findall(r'"([A-Za-z0-9_.]{2,40})"', open(path, encoding="utf-8").read()))
    tokens = ['"%s"' % w for w in sorted(words)] + ['auto', 'true', 'false', 'null', '1e308', '-1', '0.5', '//', '/*', '*/']
    with open(f"{out}/{target}.dict", "w") as f:
        for t in tokens:
            f.write('"%s"\n' % t.replace("\\", "\\\\").replace('"', '\\"'))
# nanogpt_config: the trainer's flag names (the keys of such files) and Python's literal tokens.
words = set()
for path in [f"{root}/src/zs/trainer/train_flags.cpp"] + glob.glob(f"{root}/apps/train_*.cpp"):
    words.update(re.findall(r'\.add\("([a-z0-9_]+)"', open(path, encoding="utf-8").read()))
tokens = sorted(words) + [' = ', ' * ', '# ', 'True', 'False', 'None', "'", '"', '1e308', '600_000', '-', '.5', '\\', 'import ']
with open(f"{out}/nanogpt_config.dict", "w") as f:
    for t in tokens:
        f.write('"%s"\n' % t.replace("\\", "\\\\").replace('"', '\\"'))
PY

summary=()
status=0
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t
  findings=$build/findings/$t
  mkdir -p "$corpus" "$findings"
  log=$build/fuzz_$t.log
  echo "[fuzz] $t for ${seconds}s (log: $log)"
  start=$(date +%s)
  set +e
  (cd "$findings" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/fuzz/fuzz_$t" "$corpus" "$build/seeds/$t" -dict="$build/seeds/$t.dict" -max_total_time="$seconds" \
      -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$findings/" "$@") >"$log" 2>&1
  rc=$?
  set -e
  elapsed=$(( $(date +%s) - start ))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(du -sb "$corpus" | cut -f1)
  found=$(find "$findings" -type f | wc -l)
  [ "$rc" = 0 ] && [ "$found" = 0 ] || { status=1; tail -40 "$log"; }
  summary+=("$(printf '%-17s %6ss %12s %7s %7s %7s %10s %8s' "$t" "$elapsed" "${runs:-?}" "${cov:-?}" "${ft:-?}" "$files" "$bytes" "$found")")
done
printf '%-17s %7s %12s %7s %7s %7s %10s %8s\n' target time executions cov ft corpus bytes findings
printf '%s\n' "${summary[@]}"
exit $status
