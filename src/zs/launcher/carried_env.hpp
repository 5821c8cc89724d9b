// The environment a multi-node launch carries to every node: what DeepSpeed users put in
// .deepspeed_env, the communication settings of this shell, and the switches the lent GPU machines
// need. A remote shell starts with a bare environment; these are set explicitly on each node.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace zs::launcher {

using EnvPairs = std::vector<std::pair<std::string, std::string>>;

// Lines "NAME=VALUE" of a .deepspeed_env file (blank lines and '#' comments skipped). Throws
// UsageError naming the file and line of a line that is not an assignment.
EnvPairs parse_env_file(const std::string& text, const std::string& path);

// What every node gets, later entries winning:
//   NCCL_*, ZS_*, UCX_* and OMPI_MCA_* variables of `base_env` (this shell), and its LD_PRELOAD
//   and sanitizer settings (ASAN_OPTIONS, LSAN_OPTIONS, UBSAN_OPTIONS, TSAN_OPTIONS, MSAN_OPTIONS),
//   NCCL_NVLS_ENABLE=0, TORCH_SYMM_MEM_DISABLE_MULTICAST=1, NVSHMEM_DISABLE_NVLS=1 unless set,
//   then ~/.deepspeed_env and ./.deepspeed_env (the name from DS_ENV_FILE when set), as DeepSpeed
//   reads them.
// `home` and `cwd` are the folders searched.
EnvPairs carried_environment(const std::vector<std::string>& base_env, const std::string& home, const std::string& cwd);

// Quotes `s` for a POSIX shell: 'it'\''s'.
std::string shell_quote(const std::string& s);

}  // namespace zs::launcher
