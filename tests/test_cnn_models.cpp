// The CNN models (src/zs/models/cnn) against torchvision itself: tests/cnn/cnn_reference.py (run once
// per build by the CnnReferences ctest fixture, in the Python environment of scripts/hf_venv.sh)
// saves torchvision's weights, an input and its logits; here our models load those weights by name
// and must give the same logits (eval mode, and training mode with its BatchNorm updates), with the
// same names, shapes and order of parameters and buffers. Also: parameter counts at 1000 classes,
// the units each model marks, one SGD step without an engine, stochastic depth, bf16 channels-last.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randn.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include "support/hf_python.hpp"
#include "zs/ckpt/file_io.hpp"
#include "zs/ckpt/module_weights.hpp"
#include "zs/ckpt/safetensors.hpp"
#include "zs/models/cnn/batch_norm.hpp"
#include "zs/models/cnn/cnn.hpp"
#include "zs/models/cnn/layers.hpp"
#include "zs/zero/sequential_units.hpp"

namespace {

// One intra-op thread: ctest runs two tests at once on two cores, and the small convolutions here
// are slower by orders of magnitude when threads spin against each other.
const bool kSingleThreaded = [] {
  at::set_num_threads(1);
  return true;
}();

using zs::testing::hf_python;
using zs::testing::run_command;

// The folder cnn_reference.py wrote (the fixture's; made here when a test runs on its own).
const std::string& cnn_references() {
  static const std::string dir = [] {
    const std::string fixture = std::string(ZS_BIN_DIR) + "/../cnn_references";
    if (zs::path_exists(fixture + "/complete")) return fixture;
    const std::string made = zs::testing::temp_dir("cnn_references");
    const auto r = run_command(hf_python() + " " + ZS_SOURCE_DIR + "/tests/cnn/cnn_reference.py make " + made, 1200);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return made;
  }();
  return dir;
}

std::map<std::string, at::Tensor> read_all(const std::string& path) {
  const zs::SafetensorsReader file(path);
  std::map<std::string, at::Tensor> out;
  for (const zs::TensorInfo& t : file.tensors()) out[t.name] = file.read(t.name);
  return out;
}

// The state_dict order: each module's own parameters, then its own buffers, in module order.
std::vector<std::pair<std::string, at::Tensor>> state_dict(torch::nn::Module& model) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& m : model.named_modules("", /*include_self=*/true)) {
    const std::string prefix = m.key().empty() ? "" : m.key() + ".";
    for (const auto& p : m.value()->named_parameters(/*recurse=*/false)) out.emplace_back(prefix + p.key(), p.value());
    for (const auto& b : m.value()->named_buffers(false)) out.emplace_back(prefix + b.key(), b.value());
  }
  return out;
}

// max |a - b| / max |b|: the figure the tolerances below bound.
double relative_max_diff(const at::Tensor& a, const at::Tensor& b) {
  const double scale = b.abs().max().item<double>();
  return (a.to(at::kFloat) - b).abs().max().item<double>() / std::max(scale, 1e-12);
}

// fp32 on CPU runs the same ATen kernels as torchvision: with the same thread count the logits are
// bit-identical; what may differ is the order of reductions (thread counts, channels-last kernels),
// far below this in eval mode.
constexpr double kFp32Tolerance = 1e-5;
// Training mode normalises with each batch's statistics, reductions whose order depends on the
// thread count and whose rounding 50 layers amplify (2e-5 seen between 1 and 2 threads).
constexpr double kFp32TrainTolerance = 1e-4;

class CnnReference : public ::testing::TestWithParam<std::string> {};

TEST_P(CnnReference, NamesShapesAndOrderAreTorchvisions) {
  const std::string type = GetParam();
  zs::CnnModel model = zs::make_cnn(type, 10);
  const zs::SafetensorsReader file(cnn_references() + "/" + type + ".safetensors");
  std::vector<std::string> theirs;
  std::stringstream order(file.metadata().at("state_dict_order"));
  for (std::string name; std::getline(order, name, ',');) theirs.push_back(name);
  std::vector<std::string> ours;
  for (const auto& [name, t] : state_dict(*model.module)) {
    ours.push_back(name);
    ASSERT_TRUE(file.contains(name)) << name;
    EXPECT_EQ(std::vector<int64_t>(t.sizes().begin(), t.sizes().end()), file.info(name).shape) << name;
    EXPECT_EQ(zs::safetensors_dtype(t.scalar_type()), file.info(name).dtype) << name;
  }
  EXPECT_EQ(ours, theirs);
}

TEST_P(CnnReference, LoadsTorchvisionWeightsAndGivesItsEvalLogits) {
  const std::string type = GetParam();
  zs::CnnModel model = zs::make_cnn(type, 10);
  zs::load_module_weights(*model.module, cnn_references() + "/" + type + ".safetensors");
  const auto ref = read_all(cnn_references() + "/" + type + ".ref.safetensors");
  model.module->eval();
  c10::NoGradGuard no_grad;
  const at::Tensor logits = model.forward(ref.at("input"));
  ASSERT_EQ(logits.sizes(), ref.at("logits_eval").sizes());
  const double diff = relative_max_diff(logits, ref.at("logits_eval"));
  // Channels-last input (as GPU training feeds it): the same logits.
  const at::Tensor cl = model.forward(ref.at("input").contiguous(at::MemoryFormat::ChannelsLast));
  const double diff_cl = relative_max_diff(cl, ref.at("logits_eval"));
  std::cout << "[cnn] " << type << " eval: max |ours - torchvision| / max |torchvision| = " << diff
            << " (channels-last input " << diff_cl << ")\n";
  EXPECT_LE(diff, kFp32Tolerance);
  EXPECT_LE(diff_cl, kFp32Tolerance);
}

TEST_P(CnnReference, TrainingModeForwardMatchesTorchvisionsBatchNorm) {
  const std::string type = GetParam();
  zs::CnnOptions options;
  options.num_classes = 10;
  if (type != "resnet18" && type != "resnet50") options.dropout = 0.0;  // torchvision's run had them off too
  if (type == "efficientnet_b0") options.stochastic_depth_prob = 0.0;
  zs::CnnModel model = zs::make_cnn(type, options);
  zs::load_module_weights(*model.module, cnn_references() + "/" + type + ".safetensors");
  const auto ref = read_all(cnn_references() + "/" + type + ".ref.safetensors");
  model.module->train();
  c10::NoGradGuard no_grad;
  const double diff = relative_max_diff(model.forward(ref.at("input")), ref.at("logits_train"));
  double worst_stat = 0;
  int buffers = 0;
  for (const auto& b : model.module->named_buffers()) {
    const at::Tensor& theirs = ref.at("after_train." + b.key());
    if (b.value().scalar_type() == at::kLong) {
      EXPECT_TRUE(at::equal(b.value(), theirs)) << b.key();
    } else {
      worst_stat = std::max(worst_stat, relative_max_diff(b.value(), theirs));
    }
    ++buffers;
  }
  std::cout << "[cnn] " << type << " train: logits " << diff << ", running statistics " << worst_stat << " (" << buffers
            << " buffers)\n";
  EXPECT_GT(buffers, 0);
  EXPECT_LE(diff, kFp32TrainTolerance);
  EXPECT_LE(worst_stat, kFp32TrainTolerance);
}

// One SGD step on a fixed batch without any engine: every parameter gets a gradient, BatchNorm's
// running statistics move, and the loss on that batch goes down.
TEST_P(CnnReference, TrainsOneSgdStepWithoutAnEngine) {
  const std::string type = GetParam();
  torch::manual_seed(3);
  zs::CnnOptions options;
  options.num_classes = 10;
  if (type != "resnet18" && type != "resnet50") options.dropout = 0.0;
  if (type == "efficientnet_b0") options.stochastic_depth_prob = 0.0;
  zs::CnnModel model = zs::make_cnn(type, options);
  model.module->train();
  const at::Tensor images = at::randn({4, 3, 32, 32});
  const at::Tensor labels = at::arange(4, at::kLong);
  torch::optim::SGD sgd(model.module->parameters(), torch::optim::SGDOptions(0.01));
  const at::Tensor mean_before = model.module->named_buffers()[0].value().clone();
  auto loss_now = [&] { return at::cross_entropy_loss(model.forward(images), labels); };
  at::Tensor loss = loss_now();
  sgd.zero_grad();
  loss.backward();
  for (const auto& p : model.module->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    ASSERT_TRUE(p.value().grad().isfinite().all().item<bool>()) << p.key();
  }
  sgd.step();
  EXPECT_FALSE(at::equal(model.module->named_buffers()[0].value(), mean_before));
  const double before = loss.item<double>(), after = loss_now().item<double>();
  std::cout << "[cnn] " << type << " SGD step: loss " << before << " -> " << after << "\n";
  EXPECT_LT(after, before);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, CnnReference, ::testing::ValuesIn(zs::cnn_types()),
                         [](const auto& info) { return info.param; });

TEST(CnnModels, ParameterCountsAreTorchvisionsAtAThousandClasses) {
  const std::map<std::string, int64_t> torchvision = {{"resnet18", 11689512},      {"resnet50", 25557032},
                                                      {"mobilenet_v2", 3504872},   {"efficientnet_b0", 5288548},
                                                      {"vgg16_bn", 138365992}};
  for (const auto& [type, count] : torchvision) {
    zs::CnnModel model = zs::make_cnn(type, 1000);
    int64_t n = 0;
    for (const at::Tensor& p : model.module->parameters()) n += p.numel();
    EXPECT_EQ(n, count) << type;
  }
}

TEST(CnnModels, UnitsAreTheBlocksAndTheLargeLayers) {
  const std::map<std::string, std::vector<std::string>> expected = {
      {"resnet18", {"layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1", "fc"}},
      {"mobilenet_v2", {"features.1", "features.2", "features.3", "features.4", "features.5", "features.6",
                        "features.7", "features.8", "features.9", "features.10", "features.11", "features.12",
                        "features.13", "features.14", "features.15", "features.16", "features.17", "classifier.1"}},
      {"efficientnet_b0", {"features.1.0", "features.2.0", "features.2.1", "features.3.0", "features.3.1",
                           "features.4.0", "features.4.1", "features.4.2", "features.5.0", "features.5.1",
                           "features.5.2", "features.6.0", "features.6.1", "features.6.2", "features.6.3",
                           "features.7.0", "classifier.1"}},
      {"vgg16_bn", {"features.0", "features.3", "features.7", "features.10", "features.14", "features.17",
                    "features.20", "features.24", "features.27", "features.30", "features.34", "features.37",
                    "features.40", "classifier.0", "classifier.3", "classifier.6"}},
  };
  for (const auto& [type, names] : expected) {
    zs::CnnModel model = zs::make_cnn(type, 10);
    std::vector<std::string> found;
    for (const zs::FoundUnit& u : zs::find_units(*model.module)) found.push_back(u.name);
    EXPECT_EQ(found, names) << type;
  }
  zs::CnnModel r50 = zs::make_cnn("resnet50", 10);
  EXPECT_EQ(zs::find_units(*r50.module).size(), 17u);  // 16 bottlenecks and fc
}

// Every BatchNorm is a zs::BatchNorm2d, so SyncBatchNorm reaches all of them; with a sum over one
// rank (the identity) training outputs and running statistics stay those of plain BatchNorm.
TEST(CnnModels, EveryBatchNormTakesTheSyncBatchNormSeam) {
  const std::map<std::string, int> batch_norms = {
      {"resnet18", 20}, {"resnet50", 53}, {"mobilenet_v2", 52}, {"efficientnet_b0", 49}, {"vgg16_bn", 13}};
  for (const auto& [type, count] : batch_norms) {
    zs::CnnModel model = zs::make_cnn(type, 10);
    int torch_bns = 0;
    for (const auto& m : model.module->modules())
      torch_bns += dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get()) != nullptr;
    EXPECT_EQ(torch_bns, count) << type;
    EXPECT_EQ(zs::convert_sync_batchnorm(*model.module, [](const at::Tensor& t) { return t; }), count) << type;
  }
  zs::CnnOptions options;
  options.num_classes = 10;
  options.dropout = 0.0;
  options.stochastic_depth_prob = 0.0;
  zs::CnnModel model = zs::make_cnn("efficientnet_b0", options);
  zs::load_module_weights(*model.module, cnn_references() + "/efficientnet_b0.safetensors");
  zs::convert_sync_batchnorm(*model.module, [](const at::Tensor& t) { return t; });
  const auto ref = read_all(cnn_references() + "/efficientnet_b0.ref.safetensors");
  model.module->train();
  c10::NoGradGuard no_grad;
  const double diff = relative_max_diff(model.forward(ref.at("input")), ref.at("logits_train"));
  std::cout << "[cnn] efficientnet_b0 train with the SyncBatchNorm path on one rank: logits " << diff << "\n";
  EXPECT_LE(diff, 1e-4);
}

TEST(CnnModels, NamesAliasesAndErrors) {
  EXPECT_EQ(zs::canonical_cnn_type("resnet"), "resnet50");
  EXPECT_EQ(zs::canonical_cnn_type("ResNet-18"), "resnet18");
  EXPECT_EQ(zs::canonical_cnn_type("mobilenet"), "mobilenet_v2");
  EXPECT_EQ(zs::canonical_cnn_type("efficientnet"), "efficientnet_b0");
  EXPECT_EQ(zs::canonical_cnn_type("vgg"), "vgg16_bn");
  EXPECT_EQ(zs::canonical_cnn_type("MobileNetV2"), "mobilenet_v2");
  EXPECT_EQ(zs::canonical_cnn_type("vgg16-bn"), "vgg16_bn");
  try {
    zs::make_cnn("alexnet", 10);
    FAIL() << "alexnet was accepted";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    for (const std::string& t : zs::cnn_types()) EXPECT_NE(what.find(t), std::string::npos) << what;
    EXPECT_NE(what.find("alexnet"), std::string::npos) << what;
  }
  EXPECT_THROW(zs::make_cnn("resnet18", 0), std::invalid_argument);
  zs::CnnOptions sd;
  sd.stochastic_depth_prob = 0.1;
  EXPECT_THROW(zs::make_cnn("resnet18", sd), std::invalid_argument);
}

TEST(CnnModels, WeightsOfAnotherShapeAreRefusedNamingTheTensor) {
  zs::CnnModel model = zs::make_cnn("resnet18", 100);  // the file has 10 classes
  try {
    zs::load_module_weights(*model.module, cnn_references() + "/resnet18.safetensors");
    FAIL() << "loaded a 10-class file into a 100-class model";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("fc.weight"), std::string::npos) << e.what();
  }
  zs::CnnModel other = zs::make_cnn("resnet50", 10);
  EXPECT_ANY_THROW(zs::load_module_weights(*other.module, cnn_references() + "/resnet18.safetensors"));
}

TEST(CnnModels, StochasticDepthDropsWholeSamplesInTrainingOnly) {
  torch::manual_seed(0);
  const at::Tensor x = at::rand({256, 4, 2, 2}) + 1;
  EXPECT_TRUE(at::equal(zs::cnn::stochastic_depth(x, 0.3, /*training=*/false), x));
  EXPECT_TRUE(at::equal(zs::cnn::stochastic_depth(x, 0.0, true), x));
  const at::Tensor y = zs::cnn::stochastic_depth(x, 0.3, true);
  const at::Tensor ratio = (y / x).flatten(1);
  int dropped = 0;
  for (int64_t i = 0; i < x.size(0); ++i) {
    const double r = ratio[i][0].item<double>();
    EXPECT_TRUE(at::allclose(ratio[i], at::full_like(ratio[i], r)));  // a whole sample at once
    EXPECT_TRUE(r == 0.0 || std::abs(r - 1 / 0.7) < 1e-5) << r;
    dropped += r == 0.0;
  }
  EXPECT_GT(dropped, 256 * 0.3 - 40);
  EXPECT_LT(dropped, 256 * 0.3 + 40);
  torch::manual_seed(5);
  const at::Tensor a = zs::cnn::stochastic_depth(x, 0.3, true);
  torch::manual_seed(5);
  EXPECT_TRUE(at::equal(a, zs::cnn::stochastic_depth(x, 0.3, true)));  // seeded by the default generator
}

// bf16 weights and channels-last bf16 images run (on CPU here; the GPU run states its own tolerance)
// and stay close to torchvision's fp32 logits.
TEST(CnnModels, Bf16ChannelsLastStaysCloseToFp32) {
  for (const std::string type : {"resnet18", "mobilenet_v2", "efficientnet_b0"}) {
    zs::CnnModel model = zs::make_cnn(type, 10);
    zs::load_module_weights(*model.module, cnn_references() + "/" + type + ".safetensors");
    model.module->eval();
    model.module->to(at::kBFloat16);
    const auto ref = read_all(cnn_references() + "/" + type + ".ref.safetensors");
    c10::NoGradGuard no_grad;
    const at::Tensor logits =
        model.forward(ref.at("input").to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast));
    EXPECT_EQ(logits.scalar_type(), at::kBFloat16);
    const double diff = relative_max_diff(logits, ref.at("logits_eval"));
    std::cout << "[cnn] " << type << " bf16 channels-last eval: " << diff << "\n";
    EXPECT_LT(diff, 0.1) << type;
  }
}

}  // namespace
