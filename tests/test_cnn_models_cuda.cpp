// The CNN models on a GPU against torchvision on the same GPU (built only with CUDA; run by
// bench/gpu_visit.sh). tests/cnn/cnn_reference.py, run on the GPU machine with --device cuda, writes
// torchvision's weights, an input and its eval-mode logits computed there in fp32 and in bf16:
//
//   python tests/cnn/cnn_reference.py make DIR/fp32 --device cuda --dtype fp32 --image-size 224
//   python tests/cnn/cnn_reference.py make DIR/bf16 --device cuda --dtype bf16 --image-size 224
//   ZS_CNN_CUDA_REFERENCES=DIR build/bin/test_cnn_models_cuda
//
// Our models load the same fp32 weights, move to the GPU in that precision and must give the same
// logits, with the input in the default and in the channels-last layout.
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>

#include "support/tensor_compare.hpp"
#include "zs/ckpt/file_io.hpp"
#include "zs/ckpt/module_weights.hpp"
#include "zs/ckpt/safetensors.hpp"
#include "zs/models/cnn/cnn.hpp"

namespace {

// Both sides run cuDNN's convolutions, which may pick different algorithms (and TF32, on by default
// for convolutions in PyTorch and LibTorch alike) from one process to the next; eval-mode logits after
// 16-50 layers then differ by rounding: ~1e-3 relative in fp32 (with TF32), a few bf16 ulps in bf16.
constexpr double kFp32Tolerance = 5e-3;
constexpr double kBf16Tolerance = 5e-2;

std::string references() {
  const char* dir = std::getenv("ZS_CNN_CUDA_REFERENCES");
  return dir ? dir : "";
}


class CnnOnGpu : public ::testing::TestWithParam<std::string> {};

TEST_P(CnnOnGpu, GivesTorchvisionsLogitsOnTheSameGpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  if (references().empty()) GTEST_SKIP() << "ZS_CNN_CUDA_REFERENCES not set (bench/gpu_visit.sh sets it)";
  const std::string type = GetParam();
  for (const auto& [precision, dtype, tolerance] :
       {std::tuple{"fp32", at::kFloat, kFp32Tolerance}, std::tuple{"bf16", at::kBFloat16, kBf16Tolerance}}) {
    const std::string dir = references() + "/" + precision;
    ASSERT_TRUE(zs::path_exists(dir + "/complete")) << dir << " has no finished cnn_reference.py run";
    zs::CnnModel model = zs::make_cnn(type, 10);
    zs::load_module_weights(*model.module, dir + "/" + type + ".safetensors");
    model.module->eval();
    model.module->to(at::Device(at::kCUDA, 0), dtype);
    const zs::SafetensorsReader ref(dir + "/" + type + ".ref.safetensors");
    const at::Tensor input = ref.read("input").to(at::Device(at::kCUDA, 0), dtype);
    const at::Tensor expected = ref.read("logits_eval");
    c10::NoGradGuard no_grad;
    const double diff = zs::testing::relative_diff(model.forward(input).cpu(), expected);
    const double diff_cl = zs::testing::relative_diff(model.forward(input.contiguous(at::MemoryFormat::ChannelsLast)).cpu(), expected);
    std::cout << "[cnn cuda] " << type << " " << precision << " eval: max |ours - torchvision| / max |torchvision| = "
              << diff << " (channels-last " << diff_cl << "; tolerance " << tolerance << ")\n";
    EXPECT_LE(diff, tolerance) << type << " " << precision;
    EXPECT_LE(diff_cl, tolerance) << type << " " << precision << " channels-last";
  }
}

INSTANTIATE_TEST_SUITE_P(Models, CnnOnGpu,
                         ::testing::Values("resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0", "vgg16_bn"));

}  // namespace
