// Throughput and memory of a Llama under one ZeRO config, next to bench/llama_reference.py
// (transformers' LlamaForCausalLM under PyTorch FSDP2 and DeepSpeed) on the same GPUs: random
// tokens, fixed micro batch, warm-up steps, then timed steps. The model is built on the meta
// device and materialised by the engine on the GPUs one unit at a time (or loaded from a Hugging
// Face directory straight into the shards with --init_from). Prints one JSON line on rank 0.
//
//   zsrun --num_gpus 2 build/bin/bench_llama --model llama2-7b --stage 3 --activation_checkpointing
//   zsrun --num_gpus 2 build/bin/bench_llama --model llama2-7b --export_hf /tmp/llama7b   (write a directory, exit)
//   zsrun --num_gpus 2 build/bin/bench_llama --init_from /tmp/llama7b --stage 3 ...       (load it, then train)

#include <algorithm>
#include <cstdio>
#include <vector>

#include <ATen/ops/randint.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/utils.h>

#include "zs/config/config.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/hf/hf_config.hpp"
#include "zs/hf/hf_export.hpp"
#include "zs/hf/hf_load.hpp"
#include "zs/models/llama/llama.hpp"
#include "zs/monitor/memory.hpp"

#include "bench_clock.hpp"

using zs::bench::now_s;
using zs::bench::synchronize;
using zs::bench::process_age_s;

int main(int argc, char** argv) {
  CLI::App app{"ZeroShard Llama throughput benchmark"};
  std::string model_name = "llama2-7b", dtype = "bf16", label, comm_dtype, init_from, export_hf;
  std::string offload_optimizer = "none", offload_param = "none", profile_path;
  int stage = 3, warmup = 2, steps = 6;
  int64_t micro = 4, seq = 2048, layers = 0, reuse_distance = 0;
  bool checkpointing = false, pin_memory = true, super_offload = false;
  double clipping = 1.0, cpuadam_cores_perc = 0.8, offload_ratio = 1.0;
  app.add_option("--model", model_name, "a preset (llama2-7b, llama3-8b, tinyllama-1.1b, ...)");
  app.add_option("--layers", layers, "override the preset's number of layers (0: keep)");
  app.add_option("--init_from", init_from, "a Hugging Face directory to load (its config.json gives the shape)");
  app.add_option("--export_hf", export_hf, "write the randomly initialised model to this directory and exit");
  app.add_option("--stage", stage);
  app.add_option("--dtype", dtype, "bf16, fp16, fp32");
  app.add_option("--comm_dtype", comm_dtype, "communication_data_type (default: the gradients' dtype)");
  app.add_flag("--activation_checkpointing", checkpointing, "recompute each decoder layer in backward");
  app.add_option("--offload_optimizer", offload_optimizer, "none or cpu");
  app.add_option("--offload_param", offload_param, "none or cpu (stage 3)");
  app.add_option("--pin_memory", pin_memory, "offloaded state in pinned host memory");
  app.add_flag("--super_offload", super_offload, "offload_optimizer.super_offload (CPU updates begin in backward "
                                                 "when nothing needs the whole gradient first)");
  app.add_option("--clip", clipping, "gradient_clipping (0: off)");
  app.add_option("--cpuadam_cores_perc", cpuadam_cores_perc, "with --super_offload: the CPU Adam's share of the cores");
  app.add_option("--offload_ratio", offload_ratio, "offload_optimizer.ratio (the share of the step on the CPU; the rest on the GPU)");
  app.add_option("--reuse_distance", reuse_distance, "stage3_max_reuse_distance");
  app.add_option("--micro", micro);
  app.add_option("--seq", seq);
  app.add_option("--warmup", warmup);
  app.add_option("--steps", steps);
  app.add_option("--label", label, "free text carried into the JSON line");
  app.add_option("--profile", profile_path, "after the timed steps, trace 2 more with the LibTorch profiler into this "
                                            "Chrome trace (rank 0; bench/trace_summary.py reads it)");
  CLI11_PARSE(app, argc, argv);

  try {
    zs::World world = zs::init_distributed();
    nlohmann::json cfg = {{"train_micro_batch_size_per_gpu", micro},
                          {"gradient_accumulation_steps", 1},
                          {"gradient_clipping", clipping},
                          {"steps_per_print", 1000000},
                          {"optimizer", {{"type", "AdamW"}, {"params", {{"lr", 3e-4}, {"weight_decay", 0.1}}}}},
                          {"zero_optimization", {{"stage", stage}, {"overlap_comm", true}, {"stage3_max_reuse_distance", reuse_distance}}}};
    auto& zero = cfg["zero_optimization"];
    if (offload_optimizer != "none")
      zero["offload_optimizer"] = {{"device", offload_optimizer}, {"pin_memory", pin_memory}, {"super_offload", super_offload}};
    if (super_offload) zero["offload_optimizer"]["cpuadam_cores_perc"] = cpuadam_cores_perc;
    if (offload_ratio != 1.0) zero["offload_optimizer"]["ratio"] = offload_ratio;
    if (offload_param != "none") zero["offload_param"] = {{"device", offload_param}, {"pin_memory", pin_memory}};
    if (dtype == "bf16") cfg["bf16"] = {{"enabled", true}};
    if (dtype == "fp16") cfg["fp16"] = {{"enabled", true}};
    if (!comm_dtype.empty()) cfg["communication_data_type"] = comm_dtype;
    zs::Config config = zs::parse_config(cfg.dump(), world.size(), {}, "<bench>");

    zs::LlamaConfig shape = init_from.empty() ? zs::LlamaConfig::preset(model_name)
                                              : zs::llama_config_from_hf(zs::read_hf_config(init_from), init_from);
    if (layers > 0) shape.num_hidden_layers = layers;
    shape.max_position_embeddings = std::max(shape.max_position_embeddings, seq);
    const double t_build = now_s();
    torch::manual_seed(0);
    zs::Llama model(shape, at::kMeta);  // no memory: the engine makes each unit on the GPU
    const double build_s = now_s() - t_build;
    const double flops_per_token = model->flops_per_token(seq);
    const int64_t n_params = model->num_params();

    zs::EngineOptions options;
    options.log = false;
    options.activation_checkpointing = checkpointing;
    if (init_from.empty()) {
      const zs::Llama& m = model;
      options.meta_init = [&m](const std::string& name, at::Tensor& value) { m->init_parameter(name, value); };
    } else {
      options.meta_init = zs::zero_init;  // the weights come from the directory right after
    }
    const double t_engine = now_s();
    zs::reset_peak_memory(world.device);
    zs::Engine engine(model, config, world, options);
    const double engine_s = now_s() - t_engine;
    double load_s = 0;
    if (!init_from.empty()) {
      const double t_load = now_s();
      zs::load_hf_weights(engine, init_from);
      load_s = now_s() - t_load;
    }
    const double gib = double(1 << 30);
    const double setup_peak_gib = double(zs::device_memory(world.device).peak_allocated) / gib;
    const double setup_host_peak_gib = double(zs::device_memory(c10::Device(c10::kCPU)).peak_allocated) / gib;
    if (!export_hf.empty()) {
      const double t_export = now_s();
      zs::save_hf_pretrained(engine, export_hf);
      if (world.is_main())
        std::printf("%s\n", nlohmann::json({{"bench", "zeroshard_llama_export"}, {"dir", export_hf}, {"params", n_params},
                                            {"export_s", now_s() - t_export}})
                                .dump()
                                .c_str());
      return 0;
    }
    zs::reset_peak_memory(world.device);

    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1000 + world.rank());
    at::Tensor x = at::randint(shape.vocab_size, {micro, seq}, gen, at::kLong).to(world.device);
    at::Tensor y = at::randint(shape.vocab_size, {micro, seq}, gen, at::kLong).to(world.device);

    std::vector<double> times;
    double first_loss = 0, first_step_age = 0;
    for (int i = 0; i < warmup + steps; ++i) {
      synchronize(world.device);
      const double t0 = now_s();
      engine.backward(model->forward(x, y).loss);
      engine.step();
      synchronize(world.device);
      if (i == 0) first_loss = engine.last_loss(), first_step_age = process_age_s();
      if (i >= warmup) times.push_back(now_s() - t0);
      if (world.is_main())
        std::fprintf(stderr, "bench_llama: step %d loss %.4f %.1f ms\n", i + 1, engine.last_loss(), (now_s() - t0) * 1e3);
    }
    if (!profile_path.empty()) {
      namespace prof = torch::profiler::impl;
      const prof::ProfilerConfig profiler_config(prof::ProfilerState::KINETO);
      const std::set<prof::ActivityType> activities = {prof::ActivityType::CPU, prof::ActivityType::CUDA};
      torch::autograd::profiler::prepareProfiler(profiler_config, activities);
      torch::autograd::profiler::enableProfiler(profiler_config, activities);
      for (int i = 0; i < 2; ++i) {
        engine.backward(model->forward(x, y).loss);
        engine.step();
      }
      synchronize(world.device);
      auto result = torch::autograd::profiler::disableProfiler();
      if (world.is_main()) result->save(profile_path);
    }
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    const double tok_s = double(micro * seq) / median;
    at::Tensor peaks = at::tensor({double(zs::device_memory(world.device).peak_allocated),
                                   double(zs::device_memory(c10::Device(c10::kCPU)).peak_allocated)},
                                  at::kDouble)
                           .to(world.device);
    world.comm->all_reduce(peaks, zs::ReduceOp::max)->wait();
    peaks = peaks.cpu();
    if (world.is_main()) {
      nlohmann::json out = {{"bench", "zeroshard_llama"},
                            {"label", label},
                            {"model", init_from.empty() ? model_name : init_from},
                            {"params", n_params},
                            {"layers", shape.num_hidden_layers},
                            {"stage", stage},
                            {"dtype", dtype},
                            {"comm_dtype", comm_dtype.empty() ? dtype : comm_dtype},
                            {"world", world.size()},
                            {"micro", micro},
                            {"seq", seq},
                            {"activation_checkpointing", checkpointing},
                            {"offload", offload_optimizer + "/" + offload_param},
                            {"super_offload", super_offload},
                            {"cpuadam_cores_perc", super_offload ? cpuadam_cores_perc : 1.0},
                            {"offload_ratio", offload_ratio},
                            {"clip", clipping},
                            {"step_ms", median * 1e3},
                            {"tok_s_per_gpu", tok_s},
                            {"mfu", world.device.is_cuda() ? tok_s * flops_per_token / 989e12 : 0.0},
                            {"peak_gib", peaks[0].item<double>() / gib},
                            {"host_peak_gib", peaks[1].item<double>() / gib},
                            {"setup_peak_gib", setup_peak_gib},
                            {"setup_host_peak_gib", setup_host_peak_gib},
                            {"build_s", build_s},
                            {"engine_s", engine_s},
                            {"load_s", load_s},
                            {"time_to_first_step_s", first_step_age},
                            {"first_loss", first_loss},
                            {"final_loss", engine.last_loss()}};
      std::printf("%s\n", out.dump().c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_llama: %s\n", e.what());
    return 1;
  }
  return 0;
}
