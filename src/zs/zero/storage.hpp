// Giving a tensor's storage its memory, or taking it away, while the tensor (and every view and
// alias on that storage) keeps its shape: how stage-3 groups release full buffers and gradient
// shards between uses without invalidating the parameters that live on them.
#pragma once

#include <ATen/core/Tensor.h>

namespace zs {

// Allocates memory for all of the tensor's elements on its device (allocators serve the current
// device, so it is made current for the call).
void allocate_storage(const at::Tensor& t);
// Drops the memory: nbytes 0, reading it is an error until allocate_storage.
void free_storage(const at::Tensor& t);
// variable.set_data(data), also for a variable built on the meta device (set_data refuses to move
// a tensor between the meta device and a real one; the metadata copy underneath does it).
void replace_data(const at::Tensor& variable, const at::Tensor& data);
// Whether the storage has memory.
inline bool has_storage(const at::Tensor& t) { return t.storage().nbytes() > 0; }

}  // namespace zs
