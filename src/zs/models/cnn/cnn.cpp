#include "zs/models/cnn/cnn.hpp"

#include <cctype>
#include <map>
#include <stdexcept>

#include "zs/models/cnn/efficientnet.hpp"
#include "zs/models/cnn/mobilenet_v2.hpp"
#include "zs/models/cnn/resnet.hpp"
#include "zs/models/cnn/vgg.hpp"

namespace zs {

namespace {

const std::map<std::string, std::string>& aliases() {
  static const std::map<std::string, std::string> a = {
      {"resnet", "resnet50"}, {"mobilenet", "mobilenet_v2"}, {"efficientnet", "efficientnet_b0"}, {"vgg", "vgg16_bn"}};
  return a;
}

std::string supported_list() {
  std::string s;
  for (const std::string& t : cnn_types()) s += (s.empty() ? "" : ", ") + t;
  s += " (and the short names";
  bool first = true;
  for (const auto& [alias, type] : aliases()) {
    s += (first ? " " : ", ") + alias + " = " + type;
    first = false;
  }
  return s + ")";
}

template <class Holder>
CnnModel wrap(const std::string& type, Holder holder) {
  auto impl = holder.ptr();
  return CnnModel{type, impl, [impl](const at::Tensor& images) { return impl->forward(images); }};
}

}  // namespace

const std::vector<std::string>& cnn_types() {
  static const std::vector<std::string> types = {"resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0", "vgg16_bn"};
  return types;
}

std::string canonical_cnn_type(const std::string& type) {
  // Compared in lower case without '-' and '_': "ResNet-50", "mobilenetv2" and "vgg16-bn" all match.
  auto squeeze = [](const std::string& s) {
    std::string out;
    for (unsigned char c : s)
      if (c != '-' && c != '_') out += static_cast<char>(std::tolower(c));
    return out;
  };
  const std::string key = squeeze(type);
  for (const auto& [alias, canonical] : aliases())
    if (key == alias) return canonical;
  for (const std::string& t : cnn_types())
    if (key == squeeze(t)) return t;
  throw std::invalid_argument("unknown CNN model type '" + type + "'; supported: " + supported_list());
}

CnnModel make_cnn(const std::string& type, const CnnOptions& options) {
  const std::string t = canonical_cnn_type(type);
  if (options.num_classes < 1)
    throw std::invalid_argument("num_classes must be at least 1, got " + std::to_string(options.num_classes));
  if (options.dropout && (*options.dropout < 0.0 || *options.dropout >= 1.0))
    throw std::invalid_argument("dropout must be in [0, 1), got " + std::to_string(*options.dropout));
  if (options.stochastic_depth_prob && t != "efficientnet_b0")
    throw std::invalid_argument(t + " has no stochastic depth (only efficientnet_b0 has)");
  if (options.stochastic_depth_prob && (*options.stochastic_depth_prob < 0.0 || *options.stochastic_depth_prob >= 1.0))
    throw std::invalid_argument("stochastic_depth_prob must be in [0, 1), got " +
                                std::to_string(*options.stochastic_depth_prob));
  const int64_t classes = options.num_classes;
  if (t == "resnet18" || t == "resnet50") {
    if (options.dropout && *options.dropout != 0.0) throw std::invalid_argument(t + " has no dropout");
    return wrap(t, cnn::ResNet(t == "resnet18" ? 18 : 50, classes));
  }
  if (t == "mobilenet_v2") return wrap(t, cnn::MobileNetV2(classes, options.dropout.value_or(0.2)));
  if (t == "efficientnet_b0")
    return wrap(t, cnn::EfficientNetB0(classes, options.dropout.value_or(0.2), options.stochastic_depth_prob.value_or(0.2)));
  return wrap(t, cnn::VGG16BN(classes, options.dropout.value_or(0.5)));
}

}  // namespace zs
