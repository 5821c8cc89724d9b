#include "zs/zero/storage.hpp"

#include <c10/core/DeviceGuard.h>

namespace zs {

void allocate_storage(const at::Tensor& t) {
  const c10::DeviceGuard on_device(t.device());
  c10::Storage storage = t.storage();
  const size_t bytes = size_t(t.numel()) * t.element_size();
  storage.set_data_ptr_noswap(storage.allocator()->allocate(bytes));
  storage.set_nbytes(bytes);
}

void free_storage(const at::Tensor& t) {
  c10::Storage storage = t.storage();
  storage.set_data_ptr_noswap(at::DataPtr(nullptr, t.device()));
  storage.set_nbytes(0);
}

void replace_data(const at::Tensor& variable, const at::Tensor& data) {
  if (!variable.is_meta()) return variable.set_data(data);
  // A meta parameter has no gradient accumulator yet (nothing ran on it), so nothing in autograd
  // refers to its old metadata.
  variable.unsafeGetTensorImpl()->shallow_copy_from(data.getIntrusivePtr());
}

}  // namespace zs
