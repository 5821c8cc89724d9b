// Where a parameter's next gradient may be written. The ZeRO layer copies every gradient into its
// bucket's staging buffer as it arrives (a full read and write of the gradients each micro-step);
// a layer whose kernel makes a weight's gradient from scratch (a GEMM, a column sum) can write it
// there in the first place. The consumer offers a place per parameter; the producer takes it just
// before writing (an undefined tensor: none this time, allocate as usual) and returns what it wrote
// as the gradient; the consumer, seeing its own memory arrive, skips the copy.
// A place is contiguous, of the parameter's shape, in the dtype the consumer wants (the producer
// uses it only when that is the gradient's dtype). With no engine nothing is offered and layers
// compute as they always did, so models stay independent of the engine.
#pragma once

#include <functional>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <ATen/core/Tensor.h>

namespace zs {

using GradPlaceOffer = std::function<at::Tensor()>;

namespace grad_place_detail {
struct Offers {
  std::mutex mutex;   // offers change on the main thread, are taken on autograd's threads
  std::unordered_map<const c10::TensorImpl*, GradPlaceOffer> by_param;
};
inline Offers& offers() {
  static Offers all;
  return all;
}
}  // namespace grad_place_detail

// One offer per parameter; a new one replaces the old.
inline void offer_grad_place(const at::Tensor& param, GradPlaceOffer offer) {
  auto& o = grad_place_detail::offers();
  std::lock_guard<std::mutex> lock(o.mutex);
  o.by_param[param.unsafeGetTensorImpl()] = std::move(offer);
}

inline void withdraw_grad_place(const at::Tensor& param) {
  auto& o = grad_place_detail::offers();
  std::lock_guard<std::mutex> lock(o.mutex);
  o.by_param.erase(param.unsafeGetTensorImpl());
}

// The place for `param`'s gradient now, or an undefined tensor. `param` is the parameter itself (a
// leaf autograd saved keeps its identity).
inline at::Tensor take_grad_place(const at::Tensor& param) {
  GradPlaceOffer offer;
  {
    auto& o = grad_place_detail::offers();
    std::lock_guard<std::mutex> lock(o.mutex);
    auto it = o.by_param.find(param.unsafeGetTensorImpl());
    if (it == o.by_param.end()) return {};
    offer = it->second;
  }
  return offer();
}

}  // namespace zs
