// Argument checks shared by the optimizers (internal to the optim layer).
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>

namespace zs::optim_detail {

// A master tensor must be a defined, contiguous fp32 tensor. `who` names the optimizer.
void check_master(const at::Tensor& master, const char* who);

// grads must match the registered masters one to one: same count, numel, dtype and device.
void check_grads(const std::vector<at::Tensor>& masters, const std::vector<at::Tensor>& grads,
                 const char* who);
// The same for a subset: grads[k] must match masters[slots[k]].
void check_slot_grads(const std::vector<at::Tensor>& masters, const std::vector<int>& slots,
                      const std::vector<at::Tensor>& grads, const char* who);

}  // namespace zs::optim_detail
