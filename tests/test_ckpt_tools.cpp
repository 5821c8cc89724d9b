// The checkpoint tools: consolidation into one file equal to the model's parameters, the
// Hugging Face GPT-2 export (names, shapes, transposes), inspect, loading a consolidated file
// into a model, and train_gpt's --out_dir/--resume/--init_from.
#include <regex>

#include <ATen/ops/equal.h>
#include <ATen/ops/from_blob.h>
#include <torch/utils.h>

#include "test_ckpt_support.hpp"
#include "zs/ckpt/file_io.hpp"
#include "zs/ckpt/module_weights.hpp"
#include "zs/ckpt/safetensors.hpp"
#include "zs/data/synthetic_text.hpp"
#include "zs/data/token_data.hpp"
#include "zs/models/gpt/gpt.hpp"

namespace test_ckpt_tools {

using namespace zs::testing;

namespace {

// One checkpoint for the whole suite: 2 ranks, ZeRO-1, fp32, 6 steps.
struct Saved {
  std::string dir, ck;
  nlohmann::json result;
};
const Saved& saved() {
  static const Saved s = [] {
    Saved x{temp_dir("ckpt_tools"), "", {}};
    x.ck = x.dir + "/ck";
    const TinyRun r = run_tiny(setup_of(2, 1), x.dir, "saver", "--steps 6 --save_dir " + x.ck + " --save_at 6");
    EXPECT_EQ(r.run.exit_code, 0) << r.run.output;
    x.result = r.result;
    return x;
  }();
  return s;
}

at::Tensor param_of(const nlohmann::json& result, const std::string& name, const std::vector<int64_t>& shape) {
  std::vector<float> v = result["params"][name].get<std::vector<float>>();
  return at::from_blob(v.data(), shape, at::kFloat).clone();
}

RunResult tool(const std::string& args) { return run_command(bin("zs_ckpt") + " " + args); }

double loss_at(const std::string& output, int step) {
  std::smatch m;
  const std::regex re("step " + std::to_string(step) + "/\\d+ \\| loss ([0-9.]+)");
  return std::regex_search(output, m, re) ? std::stod(m[1]) : -1;
}

}  // namespace

TEST(CheckpointTools, ConsolidatedFileEqualsTheModel) {
  const std::string out = saved().dir + "/full.safetensors";
  const RunResult r = tool("consolidate " + saved().ck + " " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("peak RSS:"), std::string::npos);
  zs::SafetensorsReader file(out);
  EXPECT_EQ(file.tensors().size(), saved().result["params"].size());
  for (const zs::TensorInfo& t : file.tensors()) {
    EXPECT_EQ(t.dtype, "F32");
    EXPECT_TRUE(at::equal(file.read(t.name), param_of(saved().result, t.name, t.shape))) << t.name;
  }

  const std::string bf16 = saved().dir + "/full_bf16.safetensors";
  ASSERT_EQ(tool("consolidate " + saved().ck + " " + bf16 + " --dtype bf16").exit_code, 0);
  zs::SafetensorsReader half(bf16);
  const zs::TensorInfo& w = half.info("transformer.h.0.mlp.c_fc.weight");
  EXPECT_EQ(w.dtype, "BF16");
  EXPECT_TRUE(at::equal(half.read(w.name), param_of(saved().result, w.name, w.shape).to(at::kBFloat16)));
}

TEST(CheckpointTools, HuggingFaceGpt2Export) {
  const std::string out = saved().dir + "/hf.safetensors";
  const RunResult r = tool("export-hf " + saved().ck + " " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  zs::SafetensorsReader hf(out);
  EXPECT_EQ(hf.metadata().at("format"), "pt");
  EXPECT_EQ(hf.tensors().size(), size_t(2 + 12 * 2 + 2 + 1));   // embeddings, 2 blocks, ln_f, lm_head
  const int64_t C = 32;
  const std::map<std::string, std::vector<int64_t>> shapes = {
      {"transformer.wte.weight", {39, C}},           {"transformer.wpe.weight", {16, C}},
      {"transformer.h.1.ln_1.weight", {C}},          {"transformer.h.1.ln_1.bias", {C}},
      {"transformer.h.1.attn.c_attn.weight", {C, 3 * C}}, {"transformer.h.1.attn.c_attn.bias", {3 * C}},
      {"transformer.h.1.attn.c_proj.weight", {C, C}},    {"transformer.h.1.ln_2.bias", {C}},
      {"transformer.h.1.mlp.c_fc.weight", {C, 4 * C}},   {"transformer.h.1.mlp.c_proj.weight", {4 * C, C}},
      {"transformer.h.1.mlp.c_proj.bias", {C}},      {"transformer.ln_f.weight", {C}},
      {"lm_head.weight", {39, C}}};
  for (const auto& [name, shape] : shapes) {
    ASSERT_TRUE(hf.contains(name)) << name;
    EXPECT_EQ(hf.info(name).shape, shape) << name;
  }
  // Conv1D weights are the Linear weights transposed; the LM head is the token embedding.
  for (const char* name : {"transformer.h.0.attn.c_attn.weight", "transformer.h.1.mlp.c_proj.weight"}) {
    const std::vector<int64_t> hf_shape = hf.info(name).shape;
    EXPECT_TRUE(at::equal(hf.read(name), param_of(saved().result, name, {hf_shape[1], hf_shape[0]}).t())) << name;
  }
  EXPECT_TRUE(at::equal(hf.read("lm_head.weight"), hf.read("transformer.wte.weight")));
  EXPECT_TRUE(at::equal(hf.read("transformer.h.0.ln_1.bias"), param_of(saved().result, "transformer.h.0.ln_1.bias", {C})));
}

TEST(CheckpointTools, InspectListsAndChecks) {
  const RunResult ok = tool("inspect " + saved().ck);
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  for (const char* expected : {"world size 2 | ZeRO stage 1 | precision fp32 | optimizer AdamW (exp_avg, exp_avg_sq)",
                               "steps: global 6", "\"step\":6", "transformer.wte.weight", "[39, 32]",
                               "rank_0_of_2.safetensors", "all files ok"})
    EXPECT_NE(ok.output.find(expected), std::string::npos) << expected << "\n" << ok.output;

  const std::string copy = saved().dir + "/damaged";
  ASSERT_EQ(run_command("cp -r " + saved().ck + " " + copy).exit_code, 0);
  flip_byte(copy + "/global_step6/rank_1_of_2.safetensors", 3000);
  const RunResult bad = tool("inspect " + copy);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("corrupted (crc32 mismatch)"), std::string::npos) << bad.output;
}

TEST(CheckpointTools, ConsolidatedFileLoadsIntoAModel) {
  const std::string out = saved().dir + "/for_model.safetensors";
  ASSERT_EQ(tool("consolidate " + saved().ck + " " + out).exit_code, 0);
  zs::GPTConfig gpt;
  gpt.n_layer = 2, gpt.n_head = 2, gpt.n_embd = 32, gpt.block_size = 16;
  gpt.vocab_size = zs::TokenData::from_text(zs::synthetic_text(20000, 7), 0.9, "synthetic").vocab_size();
  zs::GPT model(gpt);
  zs::load_module_weights(*model, out);
  for (const auto& item : model->named_parameters(true))
    EXPECT_TRUE(at::equal(item.value(), param_of(saved().result, item.key(), item.value().sizes().vec()))) << item.key();

  gpt.n_embd = 48;
  zs::GPT wider(gpt);
  try {
    zs::load_module_weights(*wider, out);
    ADD_FAILURE() << "a model of another shape loaded";
  } catch (const zs::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("transformer.wte.weight has shape [39, 32] but the model's is [39, 48]"),
              std::string::npos) << e.what();
  }
}

// train_gpt: 6 iterations in one go == 3, then --resume for 3 more; --init_from starts from
// trained weights.
TEST(CheckpointTools, TrainGptSavesResumesAndInitializes) {
  const std::string dir = temp_dir("ckpt_train_gpt");
  const std::string common = bin("train_gpt") +
                             " --device cpu --n_layer 2 --n_head 2 --n_embd 32 --block_size 32 --batch_size 4"
                             " --eval_interval 0 --sample_tokens 0 --warmup_iters 2 --lr_decay_iters 40 --learning_rate 3e-3";
  const RunResult whole = run_ranks(2, common + " --max_iters 6");
  const RunResult first = run_ranks(2, common + " --max_iters 3 --out_dir " + dir + "/ck --save_interval 2 --keep_last 1");
  const RunResult second = run_ranks(2, common + " --max_iters 6 --out_dir " + dir + "/ck --resume --keep_last 1");
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("resumed from " + dir + "/ck/global_step3 at iteration 3"), std::string::npos) << second.output;
  EXPECT_EQ(loss_at(second.output, 6), loss_at(whole.output, 6));
  EXPECT_GT(loss_at(whole.output, 6), 0);
  EXPECT_EQ(zs::list_directory(dir + "/ck").size(), 2u);   // keep_last: global_step6 and latest

  ASSERT_EQ(tool("consolidate " + dir + "/ck " + dir + "/w.safetensors").exit_code, 0);
  const RunResult fresh = run_ranks(1, common + " --max_iters 1");
  const RunResult init = run_ranks(1, common + " --max_iters 1 --init_from " + dir + "/w.safetensors");
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_LT(loss_at(init.output, 1), loss_at(fresh.output, 1)) << init.output << fresh.output;
}

}  // namespace test_ckpt_tools
