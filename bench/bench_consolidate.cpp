// Peak memory and time of `zs_ckpt consolidate` on a full-size GPT-2 checkpoint.
//
// Training GPT-2 1.5B needs far more memory than a workstation has, but consolidation only
// streams tensors from the shard files, so its memory and time do not depend on the values. This
// program therefore writes a real ZeroShard checkpoint of the model with synthetic values:
//   - parameter names and shapes come from zs::GPT(GPTConfig::preset(model)) itself;
//   - each rank's slices are the ZeRO stage-2 partition the engine computes (plan_parameters +
//     make_flat_layout with the config's reduce_bucket_size; rank r owns chunk r of every bucket);
//   - files are written by the checkpoint library (write_shard_file, add_shard_files_to_index):
//     fp32 "master", "exp_avg" and "exp_avg_sq" per slice, the RNG state, index.json, latest;
//   - values are cheap deterministic sines, generated one tensor at a time while writing.
// Then it runs `zs_ckpt inspect` and `zs_ckpt consolidate` (fp32 and bf16) as child processes,
// spot-checks the outputs against the formula, and prints wall time and peak RSS of each.
//
//   bench_consolidate --dir /tmp/zs_cons --model 1.5B [--world 2] [--keep]
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <ATen/ops/arange.h>

#include "zs/ckpt/checkpoint_index.hpp"
#include "zs/ckpt/file_io.hpp"
#include "zs/ckpt/module_tensors.hpp"
#include "zs/ckpt/safetensors.hpp"
#include "zs/ckpt/shard_file.hpp"
#include "zs/config/config.hpp"
#include "zs/engine/param_plan.hpp"
#include "zs/models/gpt/gpt.hpp"
#include "zs/zero/flat_layout.hpp"

namespace {

constexpr const char* kConfig = R"({
  "train_micro_batch_size_per_gpu": 8, "gradient_accumulation_steps": 1, "gradient_clipping": 1.0,
  "bf16": {"enabled": true},
  "optimizer": {"type": "AdamW", "params": {"lr": 6e-4, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1}},
  "zero_optimization": {"stage": 2, "reduce_bucket_size": 5e8, "allgather_bucket_size": 5e8}
})";

const std::vector<std::string> kKeys = {"master", "exp_avg", "exp_avg_sq"};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double gib(int64_t bytes) { return double(bytes) / (1024.0 * 1024.0 * 1024.0); }
double mib(int64_t bytes) { return double(bytes) / (1024.0 * 1024.0); }

// The synthetic value of element `i` of parameter number `param` (model order) for `key`:
// a sine of the element's index, with a phase per parameter and a scale per key, in fp32
// arithmetic (expected_value repeats the same float operations for the spot check).
double key_scale(const std::string& key) { return key == "master" ? 0.02 : key == "exp_avg" ? 1e-3 : 1e-6; }
double key_phase(const std::string& key) { return key == "master" ? 0.0 : key == "exp_avg" ? 1.0 : 2.0; }

at::Tensor synthetic_values(int param, const std::string& key, int64_t begin, int64_t end) {
  return at::arange(begin, end, at::TensorOptions().dtype(at::kFloat))
      .mul_(1e-3)
      .add_(0.1 * param + key_phase(key))
      .sin_()
      .mul_(key_scale(key));
}

double expected_value(int param, const std::string& key, int64_t i) {
  const float angle = float(i) * float(1e-3) + float(0.1 * param + key_phase(key));
  return double(std::sin(angle) * float(key_scale(key)));
}

struct Param {
  std::string name;
  std::vector<int64_t> shape;
  int64_t numel = 0;
};

// The model's trainable parameters (model order), and each rank's stage-2 slices (file order).
struct Layout {
  std::vector<Param> params;
  std::vector<std::vector<zs::ShardSlice>> rank_slices;
  std::vector<std::pair<std::string, at::Tensor>> module_tensors;
  int64_t buckets = 0;
};

Layout stage2_layout(const zs::GPTConfig& gpt_config, const zs::Config& config, int world) {
  zs::GPT model(gpt_config);   // the real module: names, shapes, tied weights, buffers
  Layout out;
  const auto named = model->named_parameters();
  for (const std::string& name : zs::trainable_parameter_names(*model)) {
    const at::Tensor& t = named[name];
    out.params.push_back({name, t.sizes().vec(), t.numel()});
  }
  for (const auto& [name, t] : zs::untrained_module_tensors(*model)) out.module_tensors.emplace_back(name, t.clone());

  // As the engine lays them out: decay group (matrices) then the rest, each in reverse order.
  const zs::ParamPlan plan = zs::plan_parameters(
      *model, [](const std::string&, const at::Tensor& p) { return p.dim() >= 2; }, false, 0);
  std::vector<int64_t> numels;
  for (const auto& p : plan.persistent) numels.push_back(p.tensor.numel());
  const zs::FlatLayout layout =
      zs::make_flat_layout(numels, plan.persistent_groups, world, config.zero.reduce_bucket_size);
  out.buckets = int64_t(layout.buckets.size());

  // Rank r owns chunk r of every bucket; its slice of a parameter is the overlap.
  std::vector<std::map<std::string, std::pair<int64_t, int64_t>>> owned(world);
  for (int r = 0; r < world; ++r) {
    for (size_t b = 0; b < layout.buckets.size(); ++b) {
      const zs::FlatBucket& bucket = layout.buckets[b];
      const int64_t own_lo = layout.chunk_offset(int(b), r), own_hi = own_lo + bucket.chunk;
      for (int e = bucket.first_entry; e < bucket.end_entry; ++e) {
        const zs::FlatEntry& entry = layout.entries[e];
        const int64_t lo = std::max(own_lo, entry.offset), hi = std::min(own_hi, entry.offset + entry.numel);
        if (lo < hi) owned[r][plan.persistent[e].name] = {lo - entry.offset, hi - entry.offset};
      }
    }
  }
  out.rank_slices.resize(world);
  for (int r = 0; r < world; ++r)   // the writer's order: the module's
    for (const Param& p : out.params)
      if (owned[r].count(p.name)) out.rank_slices[r].push_back({p.name, owned[r][p.name].first, owned[r][p.name].second});
  return out;
}

struct Written {
  std::string tag;
  int64_t bytes = 0;
  double seconds = 0;
};

// Writes <dir>/<tag> with the checkpoint library, one synthetic tensor at a time.
Written write_checkpoint(const std::string& dir, const Layout& layout, const zs::Config& config, int world,
                         const std::string& model_name) {
  std::map<std::string, int> param_number;
  for (size_t i = 0; i < layout.params.size(); ++i) param_number[layout.params[i].name] = int(i);
  zs::CheckpointIndex index;
  index.counters.global_steps = index.counters.optimizer_steps = index.counters.scheduler_steps = 1000;
  index.counters.micro_steps = 1000;
  index.tag = zs::default_tag(index.counters.global_steps);
  index.world_size = world;
  index.stage = config.zero.stage;
  index.precision = zs::precision_name(config.precision);
  index.optimizer = config.optimizer.type;
  index.config = config.raw;
  index.client_state = {{"synthetic_values", true},
                        {"written_by", "bench_consolidate"},
                        {"model", model_name},
                        {"note", "real ZeroShard layout (names, shapes, stage-2 slices); values are synthetic"}};
  for (const auto& item : layout.module_tensors) index.module_tensors.push_back(item.first);
  for (const Param& p : layout.params) index.params.push_back({p.name, p.shape, {}});

  const std::string tag_dir = zs::join_path(dir, index.tag);
  zs::remove_tree(tag_dir);
  zs::make_directories(tag_dir);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<zs::FileSummary> summaries;
  for (int r = 0; r < world; ++r) {
    zs::ShardFilePlan plan;
    plan.rank = r;
    plan.world_size = world;
    plan.slices = layout.rank_slices[r];
    plan.state_keys = {"exp_avg", "exp_avg_sq"};
    const c10::Device cpu(c10::kCPU);   // what a CPU run saves
    plan.extra_tensors.emplace_back(zs::rng_tensor_name(cpu), zs::rng_state(cpu));
    if (r == 0)
      for (const auto& [name, t] : layout.module_tensors) plan.extra_tensors.emplace_back("__module__." + name, t);
    const std::string path = zs::join_path(tag_dir, zs::shard_file_name(r, world));
    summaries.push_back(zs::write_shard_file(path, plan, [&](const zs::ShardSlice& s, const std::string& key) {
      return synthetic_values(param_number.at(s.param), key, s.begin, s.end);
    }));
    std::printf("  wrote %s: %.2f GiB\n", path.c_str(), gib(summaries.back().bytes));
    std::fflush(stdout);
  }
  zs::add_shard_files_to_index(index, tag_dir, summaries);
  zs::write_file_atomic(zs::join_path(tag_dir, "index.json"), index.to_json().dump(1));
  zs::write_file_atomic(zs::join_path(dir, "latest"), index.tag + "\n");
  Written w{index.tag, 0, seconds_since(t0)};
  for (const auto& s : summaries) w.bytes += s.bytes;
  return w;
}

int64_t allocated_bytes(const std::string& path) {   // on disk, as du counts
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? int64_t(st.st_blocks) * 512 : -1;
}

struct ChildRun {
  int status = -1;
  double seconds = 0;
  int64_t max_rss_bytes = 0;      // from wait4 (the kernel's count for the child)
  std::string log;                // stdout and stderr
};

// Runs `args` with stdout and stderr in `log_path`; waits with wait4 for its resource usage.
ChildRun run_child(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);
  ChildRun run;
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    std::perror("execv");
    ::_exit(127);
  }
  struct rusage usage {};
  ::wait4(pid, &run.status, 0, &usage);
  run.seconds = seconds_since(t0);
  run.max_rss_bytes = int64_t(usage.ru_maxrss) * 1024;   // Linux: kilobytes
  run.log = zs::read_text_file(log_path);
  return run;
}

bool succeeded(const ChildRun& run) { return WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0; }

// The number after `key` in `text` (e.g. "peak RSS: " -> 123.4); -1 when absent.
double number_after(const std::string& text, const std::string& key) {
  const size_t at = text.rfind(key);
  return at == std::string::npos ? -1 : std::atof(text.c_str() + at + key.size());
}

// Compares a few elements of every tensor of a consolidated file with the formula (the ends, and
// around the rank boundary where a parameter is split). Returns how many elements were checked.
int64_t spot_check(const std::string& path, const Layout& layout, double tolerance) {
  zs::SafetensorsReader reader(path);
  int64_t checked = 0;
  for (size_t i = 0; i < layout.params.size(); ++i) {
    const Param& p = layout.params[i];
    std::vector<int64_t> starts = {0, std::max<int64_t>(0, p.numel - 4)};
    for (const auto& slices : layout.rank_slices)
      for (const auto& s : slices)
        if (s.param == p.name && s.begin > 0) starts.push_back(std::max<int64_t>(0, s.begin - 2));
    for (int64_t start : starts) {
      const int64_t end = std::min(p.numel, start + 4);
      const at::Tensor got = reader.read_elements(p.name, start, end).to(at::kDouble);
      for (int64_t k = start; k < end; ++k) {
        const double want = expected_value(int(i), "master", k), have = got[k - start].item<double>();
        if (std::abs(have - want) > tolerance * (0.02 + std::abs(want)))
          throw std::runtime_error(path + ": " + p.name + "[" + std::to_string(k) + "] is " + std::to_string(have) +
                                   ", expected " + std::to_string(want));
        ++checked;
      }
    }
  }
  return checked;
}

std::string program_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return zs::parent_directory(buf);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Peak memory and time of zs_ckpt consolidate on a full-size GPT-2 checkpoint (synthetic values)"};
  std::string dir = "/tmp/zs_cons", model_name = "1.5B", zs_ckpt;
  int world = 2;
  bool keep = false;
  app.add_option("--dir", dir, "where to write the checkpoint and the outputs");
  app.add_option("--model", model_name, "GPT-2 preset: 124M, 350M, 774M, 1.5B");
  app.add_option("--world", world, "ranks (shard files) of the checkpoint")->check(CLI::Range(1, 64));
  app.add_option("--zs_ckpt", zs_ckpt, "the zs_ckpt program (default: next to this one)");
  app.add_flag("--keep", keep, "keep the checkpoint and outputs");
  CLI11_PARSE(app, argc, argv);
  if (zs_ckpt.empty()) zs_ckpt = zs::join_path(program_dir(), "zs_ckpt");
  if (::access(zs_ckpt.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "bench_consolidate: %s not found (build the zs_ckpt_app target)\n", zs_ckpt.c_str());
    return 1;
  }

  try {
    std::string lower = model_name;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    const zs::GPTConfig gpt_config = zs::GPTConfig::preset(lower);
    const zs::Config config = zs::parse_config(kConfig, world, {}, "bench_consolidate config");
    std::printf("bench_consolidate: GPT-2 %s (%lld layers, %lld wide, vocab %lld, block %lld, bias %s), "
                "world size %d, ZeRO stage %d\n",
                model_name.c_str(), (long long)gpt_config.n_layer, (long long)gpt_config.n_embd,
                (long long)gpt_config.vocab_size, (long long)gpt_config.block_size, gpt_config.bias ? "on" : "off",
                world, config.zero.stage);
    std::printf("NOTE: the checkpoint LAYOUT is the real one (names and shapes from zs::GPT, the engine's stage-2\n"
                "      partition, files written by the zs checkpoint library); the VALUES are SYNTHETIC (sines).\n"
                "      Consolidation streams tensors, so its memory and time do not depend on the values.\n");

    auto t0 = std::chrono::steady_clock::now();
    const Layout layout = stage2_layout(gpt_config, config, world);
    int64_t elements = 0, largest = 0;
    std::string largest_name;
    for (const Param& p : layout.params) {
      elements += p.numel;
      if (p.numel > largest) largest = p.numel, largest_name = p.name;
    }
    int split = 0;
    std::map<std::string, int> holders;
    for (const auto& slices : layout.rank_slices)
      for (const auto& s : slices) split += ++holders[s.param] == 2;
    std::printf("layout: %zu parameters, %lld elements (%.2f GiB fp32), %lld buckets, %d parameters split across "
                "ranks; largest %s (%lld elements); %.1f s\n",
                layout.params.size(), (long long)elements, gib(4 * elements), (long long)layout.buckets, split,
                largest_name.c_str(), (long long)largest, seconds_since(t0));

    std::printf("writing the checkpoint (master + exp_avg + exp_avg_sq, fp32) ...\n");
    std::fflush(stdout);
    zs::make_directories(dir);
    const Written written = write_checkpoint(dir, layout, config, world, model_name);
    const std::string tag_dir = zs::join_path(dir, written.tag);
    int64_t on_disk = 0;
    for (int r = 0; r < world; ++r) on_disk += allocated_bytes(zs::join_path(tag_dir, zs::shard_file_name(r, world)));
    std::printf("  %s: %.2f GiB in %.1f s (%.0f MiB/s)\n", tag_dir.c_str(), gib(written.bytes), written.seconds,
                mib(written.bytes) / written.seconds);

    struct Row {
      std::string what, output;
      ChildRun run;
      int64_t output_bytes = -1;
    };
    std::vector<Row> rows;
    const std::string out32 = zs::join_path(dir, "consolidated_fp32.safetensors");
    const std::string out16 = zs::join_path(dir, "consolidated_bf16.safetensors");
    const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
        {"inspect", {zs_ckpt, "inspect", dir}},
        {"consolidate fp32", {zs_ckpt, "consolidate", dir, out32, "--dtype", "fp32"}},
        {"consolidate bf16", {zs_ckpt, "consolidate", dir, out16, "--dtype", "bf16"}}};
    for (const auto& [what, args] : commands) {
      std::string line;
      for (const auto& a : args) line += (line.empty() ? "" : " ") + a;
      std::printf("running: %s\n", line.c_str());
      Row row{what, args.size() > 3 ? args[3] : "", run_child(args, zs::join_path(dir, "log.txt")), -1};
      if (!succeeded(row.run)) {
        std::fprintf(stderr, "bench_consolidate: %s failed:\n%s\n", line.c_str(), row.run.log.c_str());
        return 1;
      }
      // The tool's own last lines (inspect lists every parameter: show its verdict only).
      const size_t cut = row.run.log.rfind('\n', row.run.log.size() >= 2 ? row.run.log.size() - 2 : 0);
      const size_t from = what == "inspect" ? (cut == std::string::npos ? 0 : cut + 1) : row.run.log.find("consolidate:");
      std::printf("  %s", row.run.log.substr(from == std::string::npos ? 0 : from).c_str());
      if (!row.output.empty()) row.output_bytes = zs::file_size_or_minus_one(row.output);
      rows.push_back(std::move(row));
    }

    const int64_t checked32 = spot_check(out32, layout, 1e-5);
    const int64_t checked16 = spot_check(out16, layout, 1e-2);
    std::printf("spot check: %lld fp32 and %lld bf16 elements of the outputs match the synthetic formula\n",
                (long long)checked32, (long long)checked16);

    std::printf("\nGPT-2 %s, world size %d, stage 2 checkpoint (REAL layout, SYNTHETIC values): %.2f GiB in %d files "
                "(%.2f GiB allocated on disk)\n",
                model_name.c_str(), world, gib(written.bytes), world, gib(on_disk));
    std::printf("largest parameter: %s %.1f MiB fp32\n", largest_name.c_str(), mib(4 * largest));
    std::printf("| %-17s | %10s | %10s | %15s | %15s | %14s |\n", "step", "output", "wall time", "peak RSS (wait4)",
                "peak RSS (VmHWM)", "largest tensor");
    std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(19, '-').c_str(), std::string(12, '-').c_str(),
                std::string(12, '-').c_str(), std::string(18, '-').c_str(), std::string(18, '-').c_str(),
                std::string(16, '-').c_str());
    for (const Row& r : rows) {
      const double vmhwm = number_after(r.run.log, "peak RSS: ");
      const double largest_out = number_after(r.run.log, "largest tensor ");
      char out_text[32] = "-", vm_text[32] = "-", big_text[32] = "-";
      if (r.output_bytes >= 0) std::snprintf(out_text, sizeof(out_text), "%.2f GiB", gib(r.output_bytes));
      if (vmhwm >= 0) std::snprintf(vm_text, sizeof(vm_text), "%.1f MiB", vmhwm);
      if (largest_out >= 0) std::snprintf(big_text, sizeof(big_text), "%.1f MiB", largest_out / 1048576.0);
      std::printf("| %-17s | %10s | %8.1f s | %12.1f MiB | %16s | %14s |\n", r.what.c_str(), out_text, r.run.seconds,
                  mib(r.run.max_rss_bytes), vm_text, big_text);
    }

    if (!keep) {
      zs::remove_tree(tag_dir);
      for (const std::string& f : {out32, out16, zs::join_path(dir, "latest"), zs::join_path(dir, "log.txt")})
        ::unlink(f.c_str());
      ::rmdir(dir.c_str());   // only when nothing else is left in it
      std::printf("removed the checkpoint and the outputs (--keep keeps them)\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_consolidate: %s\n", e.what());
    return 1;
  }
  return 0;
}
