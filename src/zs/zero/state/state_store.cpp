#include "zs/zero/state/state_store.hpp"

#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>

namespace zs {

namespace {

// A SlotStateRange over views that live in memory (device or host).
SlotStateRange state_in_memory(const at::Tensor& master, const std::map<std::string, at::Tensor>& state,
                               int64_t begin, int64_t numel) {
  SlotStateRange range;
  range.master = master.narrow(0, begin, numel);
  for (const auto& [key, t] : state) {
    range.keys.push_back(key);
    range.state[key] = t.narrow(0, begin, numel);
  }
  auto view = [master = range.master, state = range.state](const std::string& key) {
    if (key == "master") return master;
    auto it = state.find(key);
    TORCH_CHECK(it != state.end(), "the optimizer holds no state \"", key, "\"");
    return it->second;
  };
  range.read = view;
  range.write = [view](const std::string& key, int64_t offset, const at::Tensor& values) {
    c10::NoGradGuard no_grad;
    const at::Tensor flat = values.reshape({-1});
    view(key).narrow(0, offset, flat.numel()).copy_(flat);
  };
  return range;
}

}  // namespace

SlotStateRange StateStore::state(const OwnedSlot& slot, int index, int64_t begin, int64_t numel) {
  return state_in_memory(slot.master, optimizer().state(number(index)), begin, numel);
}

void StateStore::remember(int index, int number) {
  if (number_.size() <= size_t(index)) number_.resize(size_t(index) + 1, -1);
  number_[size_t(index)] = number;
  attached_.push_back(index);
}

void StateStore::copy_masters_in_memory(const std::vector<OwnedSlot>& slots, const SlotAccess& access) const {
  c10::NoGradGuard no_grad;
  for (int i : attached_) {
    const OwnedSlot& slot = slots[size_t(i)];
    if (slot.group->gathers_from_masters()) continue;
    if (access.open) access.open(i);
    slot.own.copy_(slot.master.view_as(slot.own));
    if (access.close) access.close(i);
  }
}

}  // namespace zs
