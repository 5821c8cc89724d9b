// Hugging Face directories straight into a training engine (tests/progs/hf_engine through zsrun,
// real ranks): each rank reads only its own slices of each parameter, at ZeRO stages 0-3 and
// world sizes 1-3; the model then computes transformers' logits, and the engine's export (every
// rank takes part, rank 0 writes) holds exactly the loaded weights. A larger sharded directory
// shows the load's host memory: near one piece of one file, not the model.
#include <ATen/ops/equal.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <algorithm>
#include <tuple>

#include "support/equivalence.hpp"
#include "support/hf_python.hpp"
#include "zs/hf/hf_export.hpp"
#include "zs/hf/hf_weight_files.hpp"
#include "zs/models/llama/llama.hpp"

using namespace zs::testing;

namespace {

nlohmann::json run_hf_engine(int world, int stage, const std::string& dir, const std::string& args) {
  const std::string work = temp_dir("hf_engine");
  RunSetup s;
  s.world = world;
  s.stage = stage;
  write_text(work + "/config.json", config_json(s));
  const RunResult r = run_ranks(world, bin("tests/hf_engine") + " --dir " + dir + " --config " + work +
                                           "/config.json --out " + work + "/result.json " + args, 300);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0 ? read_json(work + "/result.json") : nlohmann::json();
}

// Every tensor of `a` is in `b` with the same values (after conversion to fp32).
void expect_same_tensors(const std::string& a, const std::string& b) {
  const zs::HfWeightFiles fa(a), fb(b);
  EXPECT_EQ(fa.weight_map().size(), fb.weight_map().size());
  for (const auto& [name, file] : fa.weight_map()) {
    ASSERT_TRUE(fb.contains(name)) << name;
    EXPECT_TRUE(at::equal(fa.reader(file).read(name).to(at::kFloat), fb.reader(fb.file_of(name)).read(name).to(at::kFloat)))
        << name;
  }
}

}  // namespace

TEST(HfEngine, LoadsItsShardsAtEveryStageAndExports) {
  // The model built on the host, or on the meta device (the engine makes it with zeros first).
  for (const auto& [stage, world, meta] : std::vector<std::tuple<int, int, bool>>{
           {0, 1, false}, {1, 2, false}, {2, 3, true}, {3, 2, false}, {3, 3, true}}) {
    for (const std::string name : {"llama_sharded_tied_gqa", "llama3_rope_mqa"}) {
      const std::string dir = hf_references() + "/" + name;
      const std::string out = temp_dir("hf_engine_export");
      const nlohmann::json r = run_hf_engine(world, stage, dir, "--ref " + dir + ".ref.safetensors --export " + out +
                                                                    (meta ? " --meta" : ""));
      ASSERT_FALSE(r.is_null());
      std::printf("[hf engine] %s stage %d world %d%s: logits rel error %.2e, loss %.6f (transformers %.6f)\n",
                  name.c_str(), stage, world, meta ? " (meta)" : "", r["logits_error"].get<double>(),
                  r["loss"].get<double>(), r["ref_loss"].get<double>());
      EXPECT_LE(r["logits_error"].get<double>(), 1e-4);
      EXPECT_NEAR(r["loss"].get<double>(), r["ref_loss"].get<double>(), 1e-4 * r["ref_loss"].get<double>());
      expect_same_tensors(dir, out);
      // Partitioned stages split the reading: no rank reads everything.
      if (stage > 0 && world > 1) {
        const auto bytes = r["bytes_read_per_rank"].get<std::vector<int64_t>>();
        const int64_t total = zs::HfWeightFiles(dir).total_bytes();
        for (int64_t b : bytes) EXPECT_LT(b, total) << "stage " << stage;
      }
    }
  }
}

// A sharded bf16 directory of a ~45M-parameter Llama (files of ~25 MB) into 2 ranks at stage 3,
// the model built on the meta device: the load itself adds about one piece of one tensor to each
// rank's resident memory, far less than the model (180 MB in fp32) or one file.
TEST(HfEngine, ShardedLoadHoldsLittleHostMemory) {
  zs::LlamaConfig c;
  c.vocab_size = 32000;
  c.hidden_size = 512;
  c.intermediate_size = 1376;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 8;
  torch::manual_seed(0);
  zs::Llama model(c);
  const std::string dir = temp_dir("hf_big");
  zs::HfExportOptions options;
  options.max_shard_bytes = 25 * 1000 * 1000;
  const int files = zs::save_hf_pretrained(*model, dir, options).files;
  ASSERT_GE(files, 3);
  const nlohmann::json r = run_hf_engine(2, 3, dir, "--steps 1 --meta");
  ASSERT_FALSE(r.is_null());
  const auto before = r["rss_before_per_rank"].get<std::vector<int64_t>>();
  const auto peak = r["rss_peak_per_rank"].get<std::vector<int64_t>>();
  const int64_t largest = r["largest_file"];
  for (size_t i = 0; i < before.size(); ++i) {
    const int64_t added = peak[i] - before[i];
    std::printf("[hf engine] %lld parameters, %d files (largest %.1f MiB), stage 3 x 2 ranks: rank %zu resident %.1f MiB "
                "before the load, peak %.1f MiB (+%.1f MiB), load %.2f s\n",
                (long long)c.num_parameters(), files, largest / 1048576.0, i, before[i] / 1048576.0, peak[i] / 1048576.0,
                added / 1048576.0, r["load_seconds"].get<double>());
    EXPECT_LT(added, largest) << "rank " << i;
  }
}
