#include "zs/ckpt/rank_agreement.hpp"

#include <cstring>

#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>

#include "zs/ckpt/file_io.hpp"
#include "zs/dist/communicator.hpp"

namespace zs {

namespace {
constexpr int64_t kMaxString = 4096;
}

std::string broadcast_string(World& world, const std::string& text, int root) {
  if (world.size() == 1) return text;
  if (world.rank() == root && int64_t(text.size()) >= kMaxString)
    throw CheckpointError("broadcast_string: text longer than " + std::to_string(kMaxString - 1) + " bytes");
  at::Tensor bytes = at::zeros({kMaxString}, at::TensorOptions().dtype(at::kByte));
  if (world.rank() == root) std::memcpy(bytes.data_ptr(), text.data(), text.size());
  at::Tensor on_device = bytes.to(world.device);
  world.comm->broadcast(on_device, root)->wait();
  bytes = on_device.cpu();
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr()));
}

void run_on_all_ranks(World& world, const std::function<void()>& body) {
  std::string error;
  try {
    body();
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "unknown error";
  }
  if (world.size() == 1) {
    if (!error.empty()) throw CheckpointError(error);
    return;
  }
  // The lowest failing rank (world size when none failed), then its message.
  at::Tensor first = at::full({1}, error.empty() ? world.size() : world.rank(),
                              at::TensorOptions().dtype(at::kLong)).to(world.device);
  world.comm->all_reduce(first, ReduceOp::min)->wait();
  const int failed = int(first.cpu().item<int64_t>());
  if (failed == world.size()) return;
  std::string message = broadcast_string(world, error.substr(0, kMaxString - 1), failed);
  if (failed != world.rank()) message = "rank " + std::to_string(failed) + ": " + message;
  throw CheckpointError(message);
}

}  // namespace zs
