// train_cnn: image classifiers (ResNet-18/50, MobileNetV2, EfficientNet-B0, VGG-16-BN) on the
// ZeroShard engine, with the flags of DeepSpeed's image-classification examples:
//
//   zsrun --num_gpus 2 build/bin/train_cnn --model-type efficientnet --strategy fsdp_stage2 --epochs 100 \
//         --batch-size 16 --gradient-accumulation-steps 2 --learning-rate 0.001 --data /data/imagenet
//   train_cnn --device=cpu --model-type resnet18 --data synthetic --image-size 32 --num-classes 10 --max-iters 20
//
// --strategy is the example's: ddp = ZeRO-1, fsdp_stage2 = ZeRO-2, fsdp_stage3 = ZeRO-3 (CPU offload
// through a --deepspeed_config with offload_optimizer/offload_param, as DeepSpeed takes it). Every
// other flag is the shared trainer's (src/zs/trainer/train_flags.hpp), dashed or underscored, with
// DeepSpeed's meaning for --gradient-accumulation-steps (micro-steps per rank). The data: a folder of
// class folders (train/ and val/, or a held-out share), CIFAR-10's binary files, or synthetic images
// (src/zs/data/images). Evaluation runs every epoch (or --eval_interval iterations): losses, then
// top-1/top-5 accuracy over the whole validation set.
#include <cstdio>

#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/empty.h>
#include <torch/utils.h>

#include "zs/ckpt/module_weights.hpp"
#include "zs/data/images/image_loader.hpp"
#include "zs/data/images/topk_accuracy.hpp"
#include "zs/dist/rank_sum.hpp"
#include "zs/dist/world.hpp"
#include "zs/models/cnn/batch_norm.hpp"
#include "zs/models/cnn/cnn.hpp"
#include "zs/monitor/format.hpp"
#include "zs/trainer/flag_set.hpp"
#include "zs/trainer/trainer.hpp"

namespace {

// DeepSpeed's image examples name their ZeRO configs after the PyTorch strategies they stand for.
int stage_of_strategy(const std::string& strategy) {
  if (strategy == "ddp") return 1;
  if (strategy == "fsdp_stage2") return 2;
  return 3;  // fsdp_stage3
}

int run(int argc, char** argv) {
  zs::FlagSet flags("train_cnn", "Train an image classifier with ZeRO (ZeroShard). Flags as DeepSpeed's image "
                                 "examples write them (--batch-size or --batch_size); positional arguments are "
                                 "nanoGPT-style config files.");
  zs::TrainFlags train;
  // The defaults of DeepSpeed's image examples: Adam at 1e-3, no decay, no clipping, 16 per GPU.
  train.learning_rate = 1e-3;
  train.weight_decay = 0.0;
  train.beta2 = 0.999;
  train.grad_clip = 0.0;
  train.decay_lr = false;
  train.warmup_iters = 0;
  train.batch_size = 16;
  train.eval_iters = 10;
  train.eval_interval = 0;   // 0 here: once per epoch (set below)
  train.max_iters = 0;       // 0 here: --epochs
  train.accumulation_over_ranks = false;
  train.data = "synthetic";
  zs::add_train_flags(flags, train);
  std::string model_type = "resnet18", strategy;
  int64_t epochs = 1, num_classes = 0, image_size = 224, workers = 0;
  bool sync_bn = false, channels_last = true;
  flags.add("model_type", model_type, "resnet18, resnet50, mobilenet_v2, efficientnet_b0, vgg16_bn (or resnet, "
                                      "mobilenet, efficientnet, vgg)");
  flags.add("strategy", strategy, "ZeRO stage as DeepSpeed's examples name it: ddp = 1, fsdp_stage2 = 2, fsdp_stage3 = 3",
            {"", "ddp", "fsdp_stage2", "fsdp_stage3"});
  flags.add("epochs", epochs, "passes over the training set (--max_iters, when given, wins)");
  flags.add("num_classes", num_classes, "classes of synthetic data (others bring their own; 0: 1000 for synthetic)");
  flags.add("image_size", image_size, "side of the square crops fed to the model");
  flags.add("workers", workers, "image decoding threads per rank (0: the cores this rank may use)");
  flags.add("sync_bn", sync_bn, "SyncBatchNorm: batch statistics over every rank's micro batch");
  flags.add("channels_last", channels_last, "channels-last images on GPUs (NHWC convolutions)");
  if (auto code = flags.parse(argc, const_cast<const char* const*>(argv))) return *code;

  if (!strategy.empty()) {
    if (flags.given("zero_stage") && train.zero_stage != stage_of_strategy(strategy))
      throw zs::ConfigError(flags.describe("strategy") + " is ZeRO stage " + std::to_string(stage_of_strategy(strategy)) +
                            " but " + flags.describe("zero_stage") + "; give one of them");
    flags.set("zero_stage", std::to_string(stage_of_strategy(strategy)), "--strategy=" + strategy);
  }
  if (epochs < 1) throw zs::ConfigError(flags.describe("epochs") + " must be at least 1");
  if (image_size < 8) throw zs::ConfigError(flags.describe("image_size") + " must be at least 8");
  if (workers < 0) throw zs::ConfigError(flags.describe("workers") + " must be 0 (automatic) or more");
  if (!train.dataset.empty()) train.data = "data/" + train.dataset;  // nanoGPT's --dataset NAME

  // The data and the model come first: an epoch's length sets --max_iters and --eval_interval.
  zs::ImageDataOptions data_options;
  data_options.image_size = image_size;
  data_options.num_classes = num_classes > 0 ? num_classes : 1000;
  data_options.seed = uint64_t(train.seed);
  data_options.synthetic_val_size = 1000;   // ImageNet-long training epochs; a validation pass of seconds
  zs::ImageData data = [&] {
    try {
      return zs::open_image_data(train.data, data_options);
    } catch (const std::exception& e) {
      throw zs::ConfigError(flags.describe("data") + ": " + e.what());
    }
  }();
  const int64_t classes = data.train->num_classes();
  if (num_classes > 0 && num_classes != classes)
    throw zs::ConfigError(flags.describe("num_classes") + " but " + data.kind + " " + train.data + " has " +
                          std::to_string(classes) + " classes");
  const int world_size = zs::detect_rank_info().world_size;
  const int64_t accumulation = train.gradient_accumulation_steps > 0 ? train.gradient_accumulation_steps : 1;
  const int64_t global_batch = train.batch_size * accumulation * world_size;
  if (global_batch > data.train->size())
    throw zs::ConfigError("a global batch of " + std::to_string(global_batch) + " images (--batch-size " +
                          std::to_string(train.batch_size) + " x " + std::to_string(accumulation) + " accumulation x " +
                          std::to_string(world_size) + " ranks) is larger than the " +
                          std::to_string(data.train->size()) + " training images");
  const zs::EpochPlan epoch = zs::plan_epoch(data.train->size(), global_batch);
  if (!flags.given("max_iters")) flags.set("max_iters", std::to_string(epochs * epoch.iterations), "--epochs");
  if (!flags.given("eval_interval")) flags.set("eval_interval", std::to_string(epoch.iterations), "one epoch");

  zs::Trainer trainer(flags, train);
  trainer.adopt_model_args(flags, trainer.resume_state(), {"model_type"});  // a resumed run keeps its model
  zs::World& world = trainer.world();
  const bool on_gpu = world.device.is_cuda();

  zs::ImageLoaderOptions loader_options;
  loader_options.global_batch = global_batch;
  loader_options.seed = uint64_t(train.seed);
  loader_options.num_workers = int(workers);
  loader_options.channels_last = channels_last && on_gpu;
  loader_options.pin_memory = on_gpu;
  const std::string data_description = data.description();
  zs::ImageLoader loader(std::move(data), loader_options);

  torch::manual_seed(uint64_t(train.seed));  // the same initial weights on every rank
  zs::CnnModel model = [&] {
    try {
      return zs::make_cnn(model_type, classes);
    } catch (const std::invalid_argument& e) {
      throw zs::ConfigError(flags.describe("model_type") + ": " + e.what());
    }
  }();
  if (sync_bn) zs::convert_sync_batchnorm(*model.module, zs::differentiable_rank_sum(world.comm));

  // The engine keeps the parameters in the run's precision; images follow them. Copied as they are
  // (from pinned memory, asynchronously), then cast on the device: a copy that also converts would
  // convert on the CPU into a pageable buffer and copy synchronously, in the training loop's thread.
  auto to_device = [&](const at::Tensor& images) {
    const auto dtype = model.module->parameters().front().scalar_type();
    return images.to(world.device, /*non_blocking=*/true).to(dtype);
  };
  int64_t announced_epoch = -1;
  zs::TrainerModel m;
  m.module = model.module;
  m.sample_name = "images";
  m.batch = [&](const zs::BatchRef& r) {
    zs::Split split = r.split;
    int64_t step = r.step;
    if (r.step >= zs::kEvalStream) {
      // The trainer's loss estimate: the validation set in order, the training set's batches of
      // iterations far beyond the run (augmented as in training).
      step = split == zs::Split::Val ? r.step - zs::kEvalStream : r.step;
    } else if (r.micro_step == 0 && loader.epoch_of(r.step) != announced_epoch) {
      announced_epoch = loader.epoch_of(r.step);
      trainer.print(zs::printf_string("epoch %lld of %lld (%lld iterations each)", (long long)announced_epoch + 1,
                                      (long long)epochs, (long long)loader.train_epoch().iterations));
    }
    const zs::ImageBatch b = loader.batch(split, step, split == zs::Split::Val ? 0 : r.micro_step, r.rank,
                                          r.world_size, r.micro_batch);
    return std::vector<at::Tensor>{to_device(b.images), b.labels.to(world.device)};
  };
  m.loss = [&](const std::vector<at::Tensor>& b) {
    return at::cross_entropy_loss(model.forward(b[0]).to(at::kFloat), b[1]);
  };
  m.evaluate = [&]() {
    zs::TopKCounts counts;
    const int64_t micro = trainer.config().train_micro_batch_size_per_gpu;
    for (int64_t k = 0; k < loader.eval_iterations(world.size(), micro); ++k) {
      const zs::ImageBatch b = loader.batch(zs::Split::Val, k, 0, world.rank(), world.size(), micro);
      counts += zs::count_topk(model.forward(to_device(b.images)), b.labels);
    }
    at::Tensor summed = at::empty({3}, at::kLong);
    int64_t* c = summed.data_ptr<int64_t>();
    c[0] = counts.top1, c[1] = counts.top5, c[2] = counts.total;
    summed = summed.to(world.device);
    world.comm->all_reduce(summed, zs::ReduceOp::sum)->wait();
    summed = summed.cpu();
    c = summed.data_ptr<int64_t>();
    const zs::TopKCounts all{c[0], c[1], c[2]};
    return zs::printf_string("val top-1 %.2f%%, top-5 %.2f%% (%lld images)", 100.0 * all.top1_accuracy(),
                             100.0 * all.top5_accuracy(), (long long)all.total);
  };
  m.load_weights = [&](const std::string& path) { zs::load_module_weights(*model.module, path); };
  m.model_args = {{"model_type", model.type}, {"num_classes", classes}, {"image_size", image_size}, {"sync_bn", sync_bn}};
  int64_t params = 0;
  for (const auto& p : model.module->parameters()) params += p.numel();
  m.description = "data: " + data_description + " | model: " + model.type + ", " +
                  zs::printf_string("%.2fM", params / 1e6) + " parameters" + (sync_bn ? ", SyncBatchNorm" : "") +
                  zs::printf_string(" | %d decoding threads per rank", loader.num_workers());
  trainer.run(m);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return zs::trainer_main("train_cnn", [&] { return run(argc, argv); });
}
