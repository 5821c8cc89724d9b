// flops_profiler: the per-operator formulas, the counter on live operators (evaluations left out),
// and a 2-rank train_gpt run whose counted training FLOPs per token agree with 6N + 12·L·d·T.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ops/matmul.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <c10/core/GradMode.h>

#include "support/run_ranks.hpp"
#include "zs/monitor/flop_counter.hpp"
#include "support/error_of.hpp"

namespace test_flops_profiler {

using namespace zs::testing;

namespace {

// FLOPs of `op` called on tensors of these shapes.
int64_t flops_of(const std::string& op, const std::vector<std::vector<int64_t>>& shapes) {
  std::vector<c10::IValue> inputs;
  for (const auto& s : shapes) inputs.emplace_back(at::ones(s));
  return zs::FlopCounter::op_flops(op, c10::ArrayRef<const c10::IValue>(inputs.data(), inputs.size()));
}

using zs::testing::contains;

}  // namespace

TEST(FlopsProfiler, OperatorFormulas) {
  EXPECT_EQ(flops_of("aten::mm", {{4, 8}, {8, 16}}), 2 * 4 * 8 * 16);
  EXPECT_EQ(flops_of("aten::addmm", {{16}, {4, 8}, {8, 16}}), 2 * 4 * 8 * 16);
  EXPECT_EQ(flops_of("aten::bmm", {{3, 4, 8}, {3, 8, 5}}), 2 * 3 * 4 * 8 * 5);
  EXPECT_EQ(flops_of("aten::baddbmm", {{3, 4, 5}, {3, 4, 8}, {3, 8, 5}}), 2 * 3 * 4 * 8 * 5);
  // Attention: B=2, H=3, T=5, S=7, D=4, Dv=6.
  EXPECT_EQ(flops_of("aten::_scaled_dot_product_flash_attention", {{2, 3, 5, 4}, {2, 3, 7, 4}, {2, 3, 7, 6}}),
            2 * 2 * 3 * 5 * 7 * (4 + 6));
  EXPECT_EQ(flops_of("aten::add", {{4}, {4}}), 0);
  EXPECT_FALSE(zs::FlopCounter::counted("aten::softmax"));
}

TEST(FlopsProfiler, CountsTrainingForwardsOnly) {
  zs::FlopCounter counter(c10::Device(c10::kCPU));
  const at::Tensor a = at::ones({4, 8}).requires_grad_(), b = at::ones({8, 16});
  counter.start();
  at::mm(a, b);                                   // counted
  at::matmul(at::ones({2, 4, 8}), at::ones({8, 16}));   // folded into one mm: counted once
  {
    c10::NoGradGuard no_grad;                      // an evaluation: not counted
    at::mm(a, b);
  }
  const at::Tensor q = at::ones({1, 2, 6, 4});
  at::scaled_dot_product_attention(q, q, q);       // whichever kernel runs: 2·B·H·T·S·(D+Dv)
  counter.stop();
  at::mm(a, b);                                    // after stop: not counted
  const int64_t expected = 2 * 4 * 8 * 16 + 2 * 8 * 8 * 16 + 2 * 1 * 2 * 6 * 6 * (4 + 4);
  EXPECT_EQ(counter.total_flops(), expected);
  ASSERT_EQ(counter.scopes().size(), 1u);
  EXPECT_EQ(counter.scopes().begin()->first, "");
}

// The GPT on 2 CPU ranks, profiled at step 3 (after the evaluation before it, which is not counted):
// a DeepSpeed-style report whose training FLOPs per token are within 2% of the formula (n_embd 256
// keeps biases, norms and the position table, which 6N counts but no matrix product multiplies,
// under 1%).
TEST(FlopsProfiler, TrainGptAgreesWithTheFormula) {
  const std::string dir = temp_dir("flops_profiler");
  write_text(dir + "/ds.json", R"({
    "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto",
    "zero_optimization": {"stage": 3},
    "flops_profiler": {"enabled": true, "profile_step": 3, "module_depth": 3, "top_modules": 2, "detailed": true,
                       "output_file": ")" + dir + R"(/flops.txt"}
  })");
  const RunResult r = run_ranks(
      2,
      bin("train_gpt") + " --device=cpu --n_layer=2 --n_head=4 --n_embd=256 --block_size=32 --batch_size=2 "
                         "--gradient_accumulation_steps=4 --eval_interval=2 --eval_iters=1 --sample_tokens=0 "
                         "--max_iters=3 --deepspeed_config=" + dir + "/ds.json",
      120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "flops profile of step 3 written to " + dir + "/flops.txt")) << r.output;
  std::ifstream in(dir + "/flops.txt");
  std::stringstream text;
  text << in.rdbuf();
  const std::string report = text.str();
  EXPECT_TRUE(contains(report, "Profile Summary at step 3:")) << report;
  EXPECT_TRUE(contains(report, "Aggregated Profile per rank")) << report;
  EXPECT_TRUE(contains(report, "Detailed Profile per rank")) << report;
  EXPECT_TRUE(contains(report, "(transformer.h.0): ")) << report;
  EXPECT_TRUE(contains(report, "aten::_scaled_dot_product")) << report;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(report, m, std::regex("counted / formula = ([0-9.]+)"))) << report;
  const double ratio = std::stod(m[1].str());
  std::printf("counted training flops per token / (6N + 12*L*d*T) = %.4f\n", ratio);
  EXPECT_NEAR(ratio, 1.0, 0.02) << report;
}

// The Llama the same way (its SwiGLU MLP, RMSNorm and rotary embeddings; 6N + 12·L·d·T as well).
TEST(FlopsProfiler, TrainLlamaAgreesWithTheFormula) {
  const std::string dir = temp_dir("flops_profiler_llama");
  write_text(dir + "/ds.json", R"({
    "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto", "zero_optimization": {"stage": 3},
    "flops_profiler": {"enabled": true, "profile_step": 2, "detailed": false, "output_file": ")" + dir + R"(/flops.txt"}
  })");
  const RunResult r = run_ranks(2,
                                bin("train_llama") + " --device=cpu --hidden_size=256 --intermediate_size=688 "
                                                     "--num_hidden_layers=2 --num_attention_heads=4 --block_size=32 "
                                                     "--batch_size=2 --max_iters=2 --eval_interval=0 --deepspeed_config=" +
                                    dir + "/ds.json",
                                120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(dir + "/flops.txt");
  std::stringstream text;
  text << in.rdbuf();
  std::smatch m;
  const std::string report = text.str();
  ASSERT_TRUE(std::regex_search(report, m, std::regex("counted / formula = ([0-9.]+)"))) << report;
  std::printf("Llama: counted training flops per token / (6N + 12*L*d*T) = %s\n", m[1].str().c_str());
  EXPECT_NEAR(std::stod(m[1].str()), 1.0, 0.02) << report;
}

}  // namespace test_flops_profiler
