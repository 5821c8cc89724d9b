// Throughput and memory of one GPT-2 size under one ZeRO config: random tokens, fixed micro
// batch, a few warm-up steps, then timed steps. Prints one JSON line on rank 0:
//   {"bench":"zeroshard","model":"350M","stage":2,"world":2,"tok_s_per_gpu":...,"mfu":...,"peak_gib":...}
// Run under zsrun; bench/gpu_visit.sh runs it next to PyTorch DDP/FSDP2 on the same GPUs.
// On GPUs the model is built on the meta device and the engine makes and initialises each
// parameter on the GPU (at stage 3 one block at a time, straight into its shard); on the CPU it is
// built and initialised on the host (--build_on chooses). The start-up figures: build_s (the
// model), engine_s (the engine, with the initialisation on the GPU) and time_to_first_step_s
// (from the process's start to the end of the first step).
//
//   zsrun --num_gpus 2 build/bin/bench_gpt --model 350M --stage 2 [--micro 8] [--steps 10]
#include <algorithm>
#include <cstdio>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <ATen/Context.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/utils.h>

#include "zs/config/config.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/engine/graphed_loss.hpp"
#include "zs/models/gpt/gpt.hpp"
#include "zs/engine/memory_estimate.hpp"
#include "zs/monitor/memory.hpp"

#include "bench_clock.hpp"

using zs::bench::now_s;
using zs::bench::process_age_s;
using zs::bench::synchronize;

int main(int argc, char** argv) {
  CLI::App app{"ZeroShard GPT throughput benchmark"};
  std::string model_name = "124M", dtype = "bf16", label, comm_dtype;
  int stage = 0, warmup = 3, steps = 10;
  int64_t micro = 8, seq = 1024, bucket = 10000000, n_layer = 0, n_embd = 0, n_head = 0, vocab = 0;
  double dropout = 0.0;
  bool overlap = true, checkpointing = false, pin_memory = true, overlap_step = false, cuda_graph = false;
  bool quantized_weights = false, quantized_gradients = false;
  int hpz = 1;
  std::string offload_optimizer = "none", offload_param = "none", nvme_path, profile_path, monitors_dir, build_on = "auto";
  app.add_option("--model", model_name, "124M, 350M, 774M, 1.5B, or custom (with --n_layer/--n_embd/--n_head)");
  app.add_option("--n_layer", n_layer, "custom model: layers");
  app.add_option("--n_embd", n_embd, "custom model: width");
  app.add_option("--n_head", n_head, "custom model: heads");
  app.add_option("--vocab", vocab, "vocabulary size (default: the preset's, 50304)");
  app.add_option("--dropout", dropout, "dropout probability");
  app.add_flag("--activation_checkpointing", checkpointing, "recompute each block in backward");
  app.add_flag("--cuda_graph", cuda_graph, "replay forward and backward as CUDA graphs (stages 0-2)");
  app.add_option("--offload_optimizer", offload_optimizer, "none, cpu or nvme");
  app.add_option("--offload_param", offload_param, "none or cpu (stage 3)");
  app.add_option("--nvme_path", nvme_path, "directory for nvme offload");
  app.add_option("--pin_memory", pin_memory, "offloaded state in pinned host memory");
  app.add_flag("--overlap_step", overlap_step, "offload_optimizer.overlap_step (stages 1-2: units update during the next forward)");
  double offload_ratio = 1.0;
  app.add_option("--offload_ratio", offload_ratio, "offload_optimizer.ratio (the share of the step on the CPU; the rest on the GPU)");
  int64_t reuse_distance = 0;
  app.add_option("--reuse_distance", reuse_distance,
                 "stage3_max_reuse_distance (0: release every unit after each use, as in the published runs)");
  app.add_option("--stage", stage);
  app.add_option("--dtype", dtype, "bf16, fp16, fp32");
  app.add_option("--comm_dtype", comm_dtype, "communication_data_type (default: the gradients' dtype)");
  app.add_option("--micro", micro);
  app.add_option("--seq", seq);
  app.add_option("--warmup", warmup);
  app.add_option("--steps", steps);
  app.add_option("--bucket", bucket, "reduce_bucket_size / allgather_bucket_size (elements)");
  app.add_option("--overlap", overlap, "overlap_comm");
  app.add_option("--build_on", build_on,
                 "where the model is built: meta (no memory; the engine initialises each parameter on the rank's "
                 "device), host (built and initialised on the CPU, then copied by the engine), auto (meta on GPUs, "
                 "host on the CPU)")
      ->check(CLI::IsMember({"auto", "meta", "host"}));
  app.add_option("--label", label, "free text carried into the JSON line");
  bool cudnn_attention = true;
  app.add_option("--cudnn_attention", cudnn_attention,
                 "let scaled_dot_product_attention pick cuDNN's kernels (false: flash or memory-efficient)");
  app.add_flag("--quantized_weights", quantized_weights, "ZeRO++ qwZ: zero_quantized_weights (stage 3)");
  app.add_flag("--quantized_gradients", quantized_gradients, "ZeRO++ qgZ: zero_quantized_gradients (stage 3)");
  app.add_option("--hpz", hpz, "ZeRO++ hpZ: zero_hpz_partition_size (stage 3; 1: off)");
  app.add_option("--profile", profile_path, "after the timed steps, trace 2 more with the LibTorch profiler into this "
                                            "Chrome trace (rank 0; bench/trace_summary.py reads it)");
  app.add_option("--monitors", monitors_dir,
                 "switch every monitor on, writing into this folder: tensorboard, csv_monitor, metrics.jsonl, "
                 "wall_clock_breakdown, memory_breakdown, comms_logger (table at the end) and flops_profiler (at the "
                 "last warm-up step, flops_profile.txt). memory_breakdown resets the peak at each phase, so this "
                 "run's peak_gib fields are per phase");
  CLI11_PARSE(app, argc, argv);
  at::globalContext().setSDPUseCuDNN(cudnn_attention);

  try {
    zs::World world = zs::init_distributed();
    nlohmann::json cfg = {
        {"train_micro_batch_size_per_gpu", micro},
        {"gradient_accumulation_steps", 1},
        {"gradient_clipping", 1.0},
        {"steps_per_print", 1000000},
        {"optimizer", {{"type", "AdamW"}, {"params", {{"lr", 1e-4}, {"weight_decay", 0.1}}}}},
        {"zero_optimization",
         {{"stage", stage}, {"overlap_comm", overlap}, {"reduce_bucket_size", bucket}, {"allgather_bucket_size", bucket}}}};
    auto& zero = cfg["zero_optimization"];
    zero["stage3_max_reuse_distance"] = reuse_distance;
    if (quantized_weights) zero["zero_quantized_weights"] = true;
    if (quantized_gradients) zero["zero_quantized_gradients"] = true;
    if (hpz != 1) zero["zero_hpz_partition_size"] = hpz;
    if (offload_optimizer != "none") {
      zero["offload_optimizer"] = {{"device", offload_optimizer}, {"pin_memory", pin_memory}};
      if (offload_optimizer == "nvme") zero["offload_optimizer"]["nvme_path"] = nvme_path;
      if (overlap_step) zero["offload_optimizer"]["overlap_step"] = true;
      if (offload_ratio != 1.0) zero["offload_optimizer"]["ratio"] = offload_ratio;
    }
    if (offload_param != "none") {
      zero["offload_param"] = {{"device", offload_param}, {"pin_memory", pin_memory}};
      if (offload_param == "nvme") zero["offload_param"]["nvme_path"] = nvme_path;
    }
    if (dtype == "bf16") cfg["bf16"] = {{"enabled", true}};
    if (dtype == "fp16") cfg["fp16"] = {{"enabled", true}};
    if (!comm_dtype.empty()) cfg["communication_data_type"] = comm_dtype;
    if (!monitors_dir.empty()) {
      cfg["steps_per_print"] = std::max(1, warmup + steps);   // the breakdowns print once, after the timed steps
      cfg["wall_clock_breakdown"] = true;
      cfg["memory_breakdown"] = true;
      cfg["tensorboard"] = {{"enabled", true}, {"output_path", monitors_dir}, {"job_name", "tensorboard"}};
      cfg["csv_monitor"] = {{"enabled", true}, {"output_path", monitors_dir}, {"job_name", "csv"}};
      cfg["comms_logger"] = {{"enabled", true}};
      // Profiled at the last warm-up step: its unit-by-unit synchronization stays out of the timed steps.
      cfg["flops_profiler"] = {{"enabled", true},
                               {"profile_step", std::max(1, warmup)},
                               {"module_depth", 3},
                               {"top_modules", 3},
                               {"output_file", monitors_dir + "/flops_profile.txt"}};
    }
    zs::Config config = zs::parse_config(cfg.dump(), world.size(), {}, "<bench>");

    zs::GPTConfig gpt = n_layer > 0 ? zs::GPTConfig{} : zs::GPTConfig::preset(model_name);
    if (n_layer > 0) {
      gpt.n_layer = n_layer;
      gpt.n_embd = n_embd;
      gpt.n_head = n_head;
    }
    gpt.block_size = seq;
    if (vocab > 0) gpt.vocab_size = vocab;
    gpt.dropout = dropout;
    // Same seed on every rank: the same weights at any world size (the engine broadcasts rank 0's).
    const double t_build = now_s();
    torch::manual_seed(0);
    const bool on_meta = build_on == "meta" || (build_on == "auto" && world.device.is_cuda());
    zs::GPT model(gpt, on_meta ? c10::Device(c10::kMeta) : c10::Device(c10::kCPU));
    const double build_s = now_s() - t_build;
    const double flops_per_token = model->flops_per_token(seq);
    const int64_t n_params = model->num_params(false);

    zs::EngineOptions options;
    options.log = false;
    options.activation_checkpointing = checkpointing;
    if (on_meta) {
      const zs::GPT& m = model;
      options.meta_init = [&m](const std::string& name, at::Tensor& value) { m->init_parameter(name, value); };
    }
    if (!monitors_dir.empty()) {
      options.metrics_jsonl = monitors_dir + "/metrics.jsonl";
      options.tokens_per_sample = seq;
      options.flops_per_token = flops_per_token;
    }
    const double t_engine = now_s();
    zs::reset_peak_memory(world.device);
    zs::Engine engine(model, config, world, options);
    synchronize(world.device);  // the initialisation and broadcasts queued on the GPU count too
    const double engine_s = now_s() - t_engine;
    // The most the GPU held while the engine was set up (at stage 3: shards plus one unit).
    const zs::MemoryStats setup = zs::device_memory(world.device);
    const double gib = double(1 << 30);
    const double setup_peak_gib = double(setup.peak_allocated) / gib;
    const zs::MemoryEstimate estimate = engine.memory_estimate();
    const double full_model_gib = double(n_params) * double(c10::elementSize(engine.param_dtype())) / gib;
    zs::reset_peak_memory(world.device);

    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1000 + world.rank());
    at::Tensor x = at::randint(gpt.vocab_size, {micro, seq}, gen, at::kLong).to(world.device);
    at::Tensor y = at::randint(gpt.vocab_size, {micro, seq}, gen, at::kLong).to(world.device);

    // --cuda_graph: forward and backward replayed as CUDA graphs (engine/graphed_loss.hpp).
    zs::GraphedLoss::LossFn loss = [&](const std::vector<at::Tensor>& b) { return model->forward(b[0], b[1]).loss; };
    if (cuda_graph) {
      try {
        loss = zs::make_graphed_loss(engine, *model, loss);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("--cuda_graph: ") + e.what());
      }
    }
    auto loss_of = [&] { return loss({x, y}); };

    std::vector<double> times;
    double first_loss = 0, first_step_age = 0;
    for (int i = 0; i < warmup + steps; ++i) {
      synchronize(world.device);
      const double t0 = now_s();
      engine.backward(loss_of());
      engine.step();
      synchronize(world.device);
      if (i == 0) {
        first_loss = engine.last_loss();
        first_step_age = process_age_s();
        if (world.is_main())
          std::fprintf(stderr, "bench_gpt: start-up: model built in %.2f s (%s), engine in %.2f s, first step done %.2f s "
                               "after the process started\n",
                       build_s, on_meta ? "meta device" : "host", engine_s, first_step_age);
      }
      if (i >= warmup) times.push_back(now_s() - t0);
      if (world.is_main() && (i < 3 || i + 1 == warmup + steps))
        std::fprintf(stderr, "bench_gpt: step %d loss %.4f %.1f ms\n", i + 1, engine.last_loss(), (now_s() - t0) * 1e3);
    }
    // One more step, with the peak taken separately for forward+backward and for the step.
    zs::reset_peak_memory(world.device);
    engine.backward(loss_of());
    synchronize(world.device);
    // Model states as the engine holds them between backward and step (parameters, reduced
    // gradients, fp32 masters and optimizer state; activations are gone), next to its accounting.
    const zs::MemoryStats after_backward = zs::device_memory(world.device);
    const double state_gib = double(after_backward.allocated) / gib;
    const double fwd_bwd_peak_gib = double(after_backward.peak_allocated) / gib;
    zs::reset_peak_memory(world.device);
    engine.step();
    synchronize(world.device);
    const double step_peak_gib = double(zs::device_memory(world.device).peak_allocated) / double(1 << 30);

    if (!profile_path.empty()) {
      // Two steps under the profiler, CPU ops and GPU kernels, written by rank 0.
      namespace prof = torch::profiler::impl;
      const prof::ProfilerConfig profiler_config(prof::ProfilerState::KINETO);
      const std::set<prof::ActivityType> activities = {prof::ActivityType::CPU, prof::ActivityType::CUDA};
      torch::autograd::profiler::prepareProfiler(profiler_config, activities);
      torch::autograd::profiler::enableProfiler(profiler_config, activities);
      for (int i = 0; i < 2; ++i) {
        engine.backward(loss_of());
        engine.step();
      }
      synchronize(world.device);
      auto result = torch::autograd::profiler::disableProfiler();
      if (world.is_main()) result->save(profile_path);
    }

    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    const double tok_s = double(micro * seq) / median;
    const zs::MemoryStats mem = zs::device_memory(world.device);
    const double overall_peak = std::max(double(mem.peak_allocated), std::max(fwd_bwd_peak_gib, step_peak_gib) * double(1 << 30));
    at::Tensor peak = at::full({1}, overall_peak, at::TensorOptions().dtype(at::kDouble).device(world.device));
    world.comm->all_reduce(peak, zs::ReduceOp::max)->wait();
    if (world.is_main()) {
      nlohmann::json out = {{"bench", "zeroshard"},
                            {"label", label},
                            {"monitors", !monitors_dir.empty()},
                            {"model", model_name},
                            {"params", n_params},
                            {"stage", stage},
                            {"dtype", dtype},
                            {"comm_dtype", comm_dtype.empty() ? dtype : comm_dtype},
                            {"reuse_distance", reuse_distance},
                            {"zeropp", {{"qwZ", quantized_weights}, {"qgZ", quantized_gradients}, {"hpZ", hpz}}},
                            {"world", world.size()},
                            {"micro", micro},
                            {"step_ms", median * 1e3},
                            {"tok_s_per_gpu", tok_s},
                            {"mfu", world.device.is_cuda() ? tok_s * flops_per_token / 989e12 : 0.0},
                            {"peak_gib", peak.item<double>() / double(1 << 30)},
                            {"state_gib", state_gib},
                            {"est_state_gib", estimate.gpu_model_states() / gib},
                            {"est_gathered_gib", estimate.gathered / gib},
                            {"est_buffers_gib", estimate.buffers / gib},
                            {"est_host_gib", estimate.host / gib},
                            {"setup_peak_gib", setup_peak_gib},
                            {"full_model_16bit_gib", full_model_gib},
                            {"build_s", build_s},
                            {"built_on", on_meta ? "meta" : "host"},
                            {"engine_s", engine_s},
                            {"time_to_first_step_s", first_step_age},
                            {"host_peak_gib", double(zs::device_memory(c10::Device(c10::kCPU)).peak_allocated) / gib},
                            {"offload", offload_optimizer + "/" + offload_param + (overlap_step ? " overlap_step" : "") +
                                           (offload_ratio != 1.0 ? " ratio " + std::to_string(offload_ratio).substr(0, 4) : "")},
                            {"checkpointing", checkpointing},
                            {"cuda_graph", cuda_graph},
                            {"first_loss", first_loss},
                            {"fwd_bwd_peak_gib", fwd_bwd_peak_gib},
                            {"step_peak_gib", step_peak_gib},
                            {"final_loss", engine.last_loss()}};
      std::printf("%s\n", out.dump().c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpt: %s\n", e.what());
    return 1;
  }
  return 0;
}
