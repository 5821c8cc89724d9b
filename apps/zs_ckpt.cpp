// zs_ckpt: look into and convert ZeroShard checkpoints.
//
//   zs_ckpt list <dir>                         the tags in <dir>, newest first, and which are sound
//   zs_ckpt inspect <dir> [--tag T]            what a checkpoint holds; checks every file
//   zs_ckpt consolidate <dir> <out.safetensors> [--dtype fp32|bf16|fp16] [--tag T]
//                                              one file of full tensors, model names
//   zs_ckpt export-hf <dir> <out_dir> [--dtype ...] [--tag T] [--config config.json] [--n_head N]
//                     [--max_shard_size 5GB]
//                                              a Hugging Face model directory (config.json, safetensors
//                                              shards, index) that from_pretrained loads: Llama or GPT-2
//   zs_ckpt export-hf <dir> <out.safetensors> ...
//                                              the weights alone, Hugging Face names and layout
// Conversions stream one tensor at a time and print their peak resident memory at the end.
#include <cstdio>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>

#include "zs/ckpt/checkpoint_files.hpp"
#include "zs/ckpt/checkpoint_index.hpp"
#include "zs/ckpt/checkpoint_list.hpp"
#include "zs/ckpt/consolidate.hpp"
#include "zs/hf/hf_export.hpp"

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Peak resident set size of this process (VmHWM), in bytes; -1 when unknown.
int64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

at::ScalarType dtype_from_flag(const std::string& s) {
  if (s == "bf16") return at::kBFloat16;
  if (s == "fp16") return at::kHalf;
  return at::kFloat;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int inspect(const std::string& dir, const std::string& tag_flag) {
  const std::string tag = zs::resolve_tag(dir, tag_flag);
  const zs::CheckpointIndex x = zs::read_checkpoint_index(dir, tag);
  std::printf("checkpoint %s%s\n", zs::join_path(dir, tag).c_str(), tag_flag.empty() ? " (latest)" : "");
  std::string keys;
  for (const auto& k : x.optimizer_state_keys) keys += (keys.empty() ? "" : ", ") + k;
  std::printf("  format version %d | world size %d | ZeRO stage %d | precision %s | optimizer %s (%s)\n",
              x.format_version, x.world_size, x.stage, x.precision.c_str(), x.optimizer.c_str(), keys.c_str());
  const auto& c = x.counters;
  std::printf("  steps: global %lld, micro %lld, skipped %lld, scheduler %lld, optimizer %lld | loss scale %g%s\n",
              (long long)c.global_steps, (long long)c.micro_steps, (long long)c.skipped_steps,
              (long long)c.scheduler_steps, (long long)c.optimizer_steps, x.loss_scaler.scale,
              x.loss_scaler_enabled ? "" : " (off)");
  std::printf("  client state: %s\n", x.client_state.dump().c_str());
  int64_t elements = 0;
  for (const auto& p : x.params) elements += p.numel();
  std::printf("  parameters: %zu (%lld elements)\n", x.params.size(), (long long)elements);
  for (const auto& p : x.params) {
    std::string slices;
    for (const auto& s : p.slices)
      slices += " " + s.file.substr(0, s.file.find('.')) + "[" + std::to_string(s.begin) + ":" + std::to_string(s.end) + ")";
    std::printf("    %-40s %-14s%s\n", p.name.c_str(), shape_text(p.shape).c_str(), slices.c_str());
  }
  std::printf("  module tensors: %zu\n", x.module_tensors.size());
  for (const auto& m : x.module_tensors) std::printf("    %s\n", m.c_str());
  zs::CheckpointFiles files(dir, tag, x);
  bool all_ok = true;
  std::printf("  files:\n");
  for (const auto& f : x.files) {
    const std::string problem = files.check_file(f);
    all_ok = all_ok && problem.empty();
    std::printf("    %-28s %12lld bytes  crc32 %08x  %s\n", f.name.c_str(), (long long)f.bytes, f.crc32,
                problem.empty() ? "ok" : problem.c_str());
  }
  std::printf("%s\n", all_ok ? "all files ok" : "CHECKPOINT DAMAGED");
  return all_ok ? 0 : 1;
}

void report(const char* what, const std::string& out, const zs::ExportResult& r) {
  std::printf("%s: wrote %s: %lld tensors, %lld bytes (largest tensor %lld bytes)\n", what, out.c_str(),
              (long long)r.tensors, (long long)r.bytes, (long long)r.largest_tensor_bytes);
  std::printf("peak RSS: %.1f MiB\n", peak_rss_bytes() / 1048576.0);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ZeroShard checkpoint tool"};
  app.require_subcommand(1);
  std::string dir, out, tag, dtype = "fp32", config_path, max_shard = "5GB";
  int64_t n_head = 0;
  auto* list_cmd = app.add_subcommand("list", "the checkpoints in a directory, newest first, and which are sound");
  list_cmd->add_option("dir", dir, "checkpoint directory")->required();
  auto* inspect_cmd = app.add_subcommand("inspect", "list what a checkpoint holds and check its files");
  inspect_cmd->add_option("dir", dir, "checkpoint directory (holds `latest`)")->required();
  inspect_cmd->add_option("--tag", tag, "tag to inspect (default: latest)");
  auto* consolidate_cmd = app.add_subcommand("consolidate", "write one safetensors file of the full parameters");
  auto* export_cmd = app.add_subcommand(
      "export-hf", "write a Hugging Face model directory (Llama or GPT-2) that from_pretrained loads; "
                   "an output ending in .safetensors gets the weights alone");
  for (auto* cmd : {consolidate_cmd, export_cmd}) {
    cmd->add_option("dir", dir, "checkpoint directory")->required();
    cmd->add_option("out", out, "output (.safetensors file, or for export-hf a directory)")->required();
    cmd->add_option("--tag", tag, "tag (default: latest)");
    cmd->add_option("--dtype", dtype, "fp32, bf16 or fp16")->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  }
  export_cmd->add_option("--config", config_path, "the config.json the model was built from (default: the one the "
                                                   "training program stored in the checkpoint)");
  export_cmd->add_option("--n_head", n_head, "a GPT's number of heads, when the checkpoint does not say");
  export_cmd->add_option("--max_shard_size", max_shard, "largest weight file, e.g. 5GB, 500MB, 2GiB");
  CLI11_PARSE(app, argc, argv);
  try {
    if (*list_cmd) {
      // Every tag's index and file sizes, and the CRC32 of the newest ones down to the first sound one.
      std::printf("%s\n", zs::describe_checkpoints(dir, "--resume_tag").c_str());
      const auto tags = zs::list_checkpoints(dir, true);
      for (const auto& t : tags)
        if (t.problem.empty() && t.verified) return 0;
      return 1;
    }
    if (*inspect_cmd) return inspect(dir, tag);
    if (*consolidate_cmd) report("consolidate", out, zs::consolidate_checkpoint(dir, out, dtype_from_flag(dtype), tag));
    if (*export_cmd && ends_with(out, ".safetensors")) {
      report("export-hf", out, zs::export_hf_weights_file(dir, tag, out, dtype_from_flag(dtype)));
    } else if (*export_cmd) {
      zs::HfExportOptions options;
      options.dtype = dtype_from_flag(dtype);
      options.max_shard_bytes = zs::parse_byte_size(max_shard);
      const nlohmann::json config = zs::hf_config_for_checkpoint(dir, tag, config_path, n_head);
      const zs::HfDirectoryResult r = zs::export_hf_checkpoint(dir, tag, out, config, options);
      std::printf("export-hf: wrote %s: %lld tensors in %d file(s), %lld bytes, config.json (%s)\n", out.c_str(),
                  (long long)r.tensors, r.files, (long long)r.bytes, config.value("model_type", "?").c_str());
      std::printf("peak RSS: %.1f MiB\n", peak_rss_bytes() / 1048576.0);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zs_ckpt: %s\n", e.what());
    return 1;
  }
  return 0;
}
