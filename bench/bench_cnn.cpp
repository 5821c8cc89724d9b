// Images/s of an image classifier under one ZeRO stage, next to bench/cnn_reference.py
// (torchvision's same model under PyTorch DDP eager and under DeepSpeed) on the same GPUs: a fixed
// batch of random images (224x224, channels-last on GPUs), bf16, SGD with momentum, warm-up steps,
// then timed steps. Data loading is left out on both sides (bench_image_loader measures it).
// Prints one JSON line on rank 0.
//
//   zsrun --num_gpus 2 build/bin/bench_cnn --model resnet50 --stage 2
//   bench_cnn --model resnet18 --micro 8 --image_size 64 --steps 3        (CPU: a quick look)
#include <algorithm>
#include <cstdio>
#include <vector>

#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include "zs/config/config.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/models/cnn/cnn.hpp"
#include "zs/monitor/memory.hpp"

#include "bench_clock.hpp"

using zs::bench::now_s;
using zs::bench::synchronize;

int main(int argc, char** argv) {
  CLI::App app{"ZeroShard image-classifier throughput benchmark"};
  std::string model_name = "resnet50", dtype = "bf16", label;
  int stage = 1, warmup = 5, steps = 20;
  int64_t micro = 128, image_size = 224, num_classes = 1000;
  bool channels_last = true;
  app.add_option("--model", model_name, "resnet18, resnet50, mobilenet_v2, efficientnet_b0, vgg16_bn");
  app.add_option("--stage", stage);
  app.add_option("--dtype", dtype, "bf16 or fp32");
  app.add_option("--micro", micro, "images per GPU per step");
  app.add_option("--image_size", image_size);
  app.add_option("--num_classes", num_classes);
  app.add_option("--channels_last", channels_last, "channels-last images (on GPUs)");
  app.add_option("--warmup", warmup);
  app.add_option("--steps", steps);
  app.add_option("--label", label, "free text carried into the JSON line");
  CLI11_PARSE(app, argc, argv);

  try {
    zs::World world = zs::init_distributed();
    nlohmann::json cfg = {{"train_micro_batch_size_per_gpu", micro},
                          {"gradient_accumulation_steps", 1},
                          {"steps_per_print", 1000000},
                          {"optimizer", {{"type", "SGD"}, {"params", {{"lr", 0.01}, {"momentum", 0.9}, {"weight_decay", 1e-4}}}}},
                          {"zero_optimization", {{"stage", stage}, {"overlap_comm", true}}}};
    if (dtype == "bf16") cfg["bf16"] = {{"enabled", true}};
    zs::Config config = zs::parse_config(cfg.dump(), world.size(), {}, "<bench>");

    torch::manual_seed(0);
    zs::CnnModel model = zs::make_cnn(model_name, num_classes);
    int64_t n_params = 0;
    for (const auto& p : model.module->parameters()) n_params += p.numel();
    zs::EngineOptions options;
    options.log = false;
    options.sample_name = "images";
    zs::reset_peak_memory(world.device);
    zs::Engine engine(*model.module, config, world, options);

    const auto param_dtype = dtype == "bf16" ? at::kBFloat16 : at::kFloat;
    const bool cl = channels_last && world.device.is_cuda();
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1000 + world.rank());
    const at::Tensor images = at::randn({micro, 3, image_size, image_size}, gen, at::kFloat)
                                  .to(world.device, param_dtype)
                                  .contiguous(cl ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
    const at::Tensor labels = at::randint(num_classes, {micro}, gen, at::kLong).to(world.device);

    std::vector<double> times;
    double first_loss = 0;
    for (int i = 0; i < warmup + steps; ++i) {
      synchronize(world.device);
      const double t0 = now_s();
      engine.backward(at::cross_entropy_loss(model.forward(images).to(at::kFloat), labels));
      engine.step();
      synchronize(world.device);
      if (i == 0) first_loss = engine.last_loss();
      if (i >= warmup) times.push_back(now_s() - t0);
      if (world.is_main() && (i < 2 || i + 1 == warmup + steps))
        std::fprintf(stderr, "bench_cnn: step %d loss %.4f %.1f ms\n", i + 1, engine.last_loss(), (now_s() - t0) * 1e3);
    }
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    at::Tensor peak = at::tensor({double(zs::device_memory(world.device).peak_allocated)}, at::kDouble).to(world.device);
    world.comm->all_reduce(peak, zs::ReduceOp::max)->wait();
    if (world.is_main()) {
      nlohmann::json out = {{"bench", "zeroshard_cnn"},
                            {"label", label},
                            {"model", model.type},
                            {"params", n_params},
                            {"stage", stage},
                            {"dtype", dtype},
                            {"world", world.size()},
                            {"micro", micro},
                            {"image_size", image_size},
                            {"channels_last", cl},
                            {"step_ms", median * 1e3},
                            {"img_s_per_gpu", double(micro) / median},
                            {"peak_gib", peak.cpu().item<double>() / double(1 << 30)},
                            {"first_loss", first_loss},
                            {"final_loss", engine.last_loss()}};
      std::printf("%s\n", out.dump().c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cnn: %s\n", e.what());
    return 1;
  }
  return 0;
}
