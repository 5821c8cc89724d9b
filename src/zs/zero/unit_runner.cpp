#include "zs/zero/unit_runner.hpp"

#include <memory>

#include <ATen/record_function.h>
#include <c10/core/GradMode.h>

#include "zs/zero/activation_checkpoint.hpp"
#include "zs/zero/param_group.hpp"
#include "zs/zero/unit_schedule.hpp"

namespace zs {

std::vector<at::Tensor> UnitRunner::run(UnitBase& unit, const UnitBody& body, const std::vector<at::Tensor>& inputs) {
  RECORD_USER_SCOPE(scope_);
  if (before_) before_();
  if (group_) {
    group_->gather();
    schedule_->on_forward(group_);
  }
  std::vector<at::Tensor> outputs = unit.activation_checkpointing() ? checkpointed(body, inputs, &unit.unit_module())
                                                                    : body(inputs);
  if (group_) after_forward(outputs);
  return outputs;
}

void UnitRunner::after_forward(const std::vector<at::Tensor>& outputs) {
  bool backward_follows = false;
  if (c10::GradMode::is_enabled())
    for (const at::Tensor& y : outputs) backward_follows = backward_follows || (y.defined() && y.requires_grad());
  if (!(backward_follows && schedule_->keep_after_forward(group_))) group_->release();
  if (!backward_follows) return;
  // The first output gradient that arrives (before the unit's own backward runs) gathers the
  // group again; the others of this call find nothing left to do.
  auto armed = std::make_shared<bool>(true);
  for (const at::Tensor& y : outputs) {
    if (!y.defined() || !y.requires_grad()) continue;
    y.register_hook([this, armed](const at::Tensor&) {
      if (!*armed) return;
      *armed = false;
      group_->gather();
      schedule_->on_backward(group_);
    });
  }
}

}  // namespace zs
