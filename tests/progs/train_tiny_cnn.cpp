// Trains a CNN of models/cnn (BatchNorm, residual blocks as stage-3 units) for a few steps on
// synthetic images under a given ZeRO config and writes, on rank 0, the per-step losses to a JSON
// file and the final parameters and buffers (BatchNorm's running statistics) to a safetensors file:
// the CNN equivalence tests compare them across stages and world sizes.
//
//   train_tiny_cnn --config cfg.json --out result.json --weights final.safetensors
//                  [--model resnet18] [--steps 4] [--image_size 32] [--sync_bn]
#include <fstream>
#include <iostream>

#include <ATen/ops/cross_entropy_loss.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include "zs/ckpt/safetensors.hpp"
#include "zs/config/config.hpp"
#include "zs/data/images/image_loader.hpp"
#include "zs/dist/rank_sum.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/models/cnn/batch_norm.hpp"
#include "zs/models/cnn/cnn.hpp"

int main(int argc, char** argv) {
  CLI::App app{"train a CNN on synthetic images and dump losses, weights and running statistics"};
  std::string config_path, out_path, weights_path, model_type = "resnet18", device = "cpu";
  int64_t steps = 4, image_size = 32;
  bool sync_bn = false;
  app.add_option("--config", config_path, "DeepSpeed JSON config")->required();
  app.add_option("--out", out_path, "where rank 0 writes the losses (JSON)")->required();
  app.add_option("--weights", weights_path, "where rank 0 writes parameters and buffers (safetensors)")->required();
  app.add_option("--model", model_type, "a models/cnn type");
  app.add_option("--steps", steps, "optimizer steps");
  app.add_option("--image_size", image_size, "image side");
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_flag("--sync_bn", sync_bn, "SyncBatchNorm over the ranks");
  CLI11_PARSE(app, argc, argv);

  try {
    zs::World world = zs::init_distributed(device == "cuda" ? zs::DevicePreference::cuda : zs::DevicePreference::cpu);
    zs::Config config = zs::load_config(config_path, world.size());

    zs::ImageDataOptions data_options;
    data_options.image_size = image_size;
    data_options.num_classes = 4;
    data_options.synthetic_train_size = 256;
    data_options.synthetic_val_size = 16;
    zs::ImageLoaderOptions loader_options;
    loader_options.global_batch = config.train_batch_size;
    loader_options.num_workers = 1;
    zs::ImageLoader loader(zs::open_image_data("synthetic", data_options), loader_options);

    torch::manual_seed(1234);
    zs::CnnModel model = zs::make_cnn(model_type, 4);
    if (sync_bn) zs::convert_sync_batchnorm(*model.module, zs::differentiable_rank_sum(world.comm));
    zs::EngineOptions options;
    options.log = false;
    zs::Engine engine(*model.module, config, world, options);

    nlohmann::json result;
    const int64_t micro = config.train_micro_batch_size_per_gpu;
    for (int64_t step = 0; step < steps; ++step) {
      for (int64_t m = 0; m < config.gradient_accumulation_steps; ++m) {
        const zs::ImageBatch b = loader.batch(zs::Split::Train, step, m, world.rank(), world.size(), micro);
        const at::Tensor logits = model.forward(b.images.to(world.device));
        engine.backward(at::cross_entropy_loss(logits.to(at::kFloat), b.labels.to(world.device)));
        engine.step();
      }
      result["loss"].push_back(engine.last_loss());
      result["grad_norm"].push_back(engine.last_grad_norm());
      result["grad_norm"].push_back(engine.last_grad_norm());
    }
    zs::FullParameters full(engine);  // stage 3 keeps only shards between uses
    if (world.is_main()) {
      std::vector<std::pair<std::string, at::Tensor>> tensors;
      for (const auto& p : model.module->named_parameters()) tensors.emplace_back(p.key(), p.value().detach().cpu());
      for (const auto& b : model.module->named_buffers()) tensors.emplace_back(b.key(), b.value().cpu());
      zs::write_safetensors(weights_path, tensors);
      std::ofstream(out_path) << result.dump();
    }
  } catch (const std::exception& e) {
    std::cerr << "train_tiny_cnn: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
