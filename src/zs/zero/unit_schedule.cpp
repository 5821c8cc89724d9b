#include "zs/zero/unit_schedule.hpp"

#include <algorithm>

#include "zs/zero/param_group.hpp"

namespace zs {

int64_t UnitSchedule::live_elements() const {
  int64_t live = 0;
  for (const ParamGroup* u : units_)
    if (u->gathered()) live += u->numel();
  return live;
}

void UnitSchedule::prefetch_from(int position, int direction) {
  // As DeepSpeed counts stage3_prefetch_bucket_size: units are prefetched while the elements already
  // on their way stay below it, so the unit that crosses it still goes (a unit larger than the
  // bucket, as a 7B model's decoder layer is against the default 5e7, is still prefetched one ahead).
  int64_t prefetching = 0;
  for (int i = position + direction; i >= 0 && i < int(order_.size()); i += direction) {
    ParamGroup* next = order_[i];
    if (next->gathered()) continue;
    if (prefetching >= prefetch_elements_ || live_elements() + next->numel() > max_live_elements_) break;
    next->start_gather();
    prefetching += next->numel();
  }
}

void UnitSchedule::on_forward(ParamGroup* unit) {
  if (recording_) {
    order_.push_back(unit);
    return;
  }
  // The next occurrence after the previous forward position (a unit may run more than once).
  auto from = position_ >= 0 && position_ + 1 < int(order_.size()) ? order_.begin() + position_ + 1 : order_.begin();
  auto it = std::find(from, order_.end(), unit);
  if (it == order_.end()) it = std::find(order_.begin(), order_.end(), unit);
  position_ = it == order_.end() ? -1 : int(it - order_.begin());
  if (position_ >= 0) prefetch_from(position_, +1);
}

bool UnitSchedule::keep_after_forward(ParamGroup* unit) const {
  if (recording_ || position_ < 0 || order_[position_] != unit) return false;
  return reuse_distance_[position_] < max_reuse_distance_ && live_elements() <= max_live_elements_;
}

void UnitSchedule::on_backward(ParamGroup* unit) {
  if (recording_) return;
  auto it = std::find(order_.rbegin(), order_.rend(), unit);  // the last forward use runs backward first
  if (it != order_.rend()) prefetch_from(int(order_.rend() - it) - 1, -1);
}

void UnitSchedule::set_pinned(bool pinned) {
  for (ParamGroup* u : units_) u->set_pinned(pinned);
}

void UnitSchedule::end_backward() {
  position_ = -1;
  if (!recording_) return;
  recording_ = false;
  // Reuse distances from the recorded order: between a unit's forward at position k and its next
  // use (a later forward of the same unit, else its backward, which follows the backward of every
  // unit after it) the units in between are gathered.
  reuse_distance_.assign(order_.size(), 0);
  for (size_t k = 0; k < order_.size(); ++k) {
    int64_t distance = 0;
    for (size_t j = k + 1; j < order_.size() && order_[j] != order_[k]; ++j) distance += order_[j]->numel();
    reuse_distance_[k] = distance;
  }
}

}  // namespace zs
