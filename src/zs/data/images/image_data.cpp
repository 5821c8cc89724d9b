#include "zs/data/images/image_data.hpp"

#include <stdexcept>

#include "zs/data/images/cifar10.hpp"
#include "zs/data/images/image_folder.hpp"
#include "zs/data/images/synthetic_images.hpp"

namespace zs {

std::string ImageData::description() const {
  const int64_t size = eval_transform.size;
  const std::string source = train ? train->source() : std::string("?");
  // A source that names its kind already ("synthetic (...)") is not prefixed with it again.
  return (source.rfind(kind, 0) == 0 ? source : kind + " " + source) + ": " + std::to_string(train ? train->size() : 0) +
         " train / " + std::to_string(val ? val->size() : 0) + " val images, " +
         std::to_string(train ? train->num_classes() : 0) + " classes, " + std::to_string(size) + "x" +
         std::to_string(size) + "; train: " + image_transform_name(train_transform.kind) +
         ", eval: " + image_transform_name(eval_transform.kind);
}

ImageData open_image_data(const std::string& data, const ImageDataOptions& o) {
  if (o.image_size <= 0) throw std::invalid_argument("image size must be positive, got " + std::to_string(o.image_size));
  if (data.empty()) throw std::invalid_argument("no image data given (a folder, a CIFAR-10 folder or \"synthetic\")");
  ImageData out;
  out.train_transform.size = out.eval_transform.size = o.image_size;
  if (data == "synthetic") {
    if (o.num_classes <= 0) throw std::invalid_argument("synthetic data needs a positive number of classes");
    out.kind = "synthetic";
    out.train = std::make_shared<SyntheticImages>(o.synthetic_train_size, o.num_classes, o.image_size, o.image_size, o.seed);
    // Other pixels (another seed), the same class colours.
    out.val = std::make_shared<SyntheticImages>(o.synthetic_val_size, o.num_classes, o.image_size, o.image_size,
                                                o.seed ^ 0x5EEDull);
    out.train_transform.kind = out.eval_transform.kind = ImageTransform::CenterCrop;
    out.normalization = Normalization::imagenet();
    return out;
  }
  if (Cifar10::looks_like_cifar10(data)) {
    out.kind = "CIFAR-10";
    out.train = Cifar10::open(data, /*train=*/true);
    out.val = Cifar10::open(data, /*train=*/false);
    if (o.image_size == 32) {
      out.train_transform.kind = ImageTransform::PadRandomCropFlip;
      out.eval_transform.kind = ImageTransform::CenterCrop;
    } else {
      out.train_transform.kind = ImageTransform::RandomResizedCropFlip;
      out.eval_transform.kind = ImageTransform::ResizeCenterCrop;
      out.eval_transform.resize_size = o.image_size;  // square images: the whole image, resized
    }
    out.normalization = Normalization::cifar10();
    return out;
  }
  out.kind = "image folder";
  ImageFolderSplits splits = open_image_folder_splits(data, o.val_fraction, o.seed);
  out.train = splits.train;
  out.val = splits.val;
  out.train_transform.kind = ImageTransform::RandomResizedCropFlip;
  out.eval_transform.kind = ImageTransform::ResizeCenterCrop;
  out.normalization = Normalization::imagenet();
  return out;
}

}  // namespace zs
