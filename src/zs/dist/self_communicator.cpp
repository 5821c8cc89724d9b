#include "zs/dist/self_communicator.hpp"

#include <cstdio>
#include <cstdlib>

#include "zs/dist/collective_checks.hpp"

namespace zs {
namespace {

// Work that is done when it is created (copies run on the caller's stream, already ordered).
class DoneWork : public Work {
 public:
  void wait() override {}
  bool completed() override { return true; }
};

}  // namespace

WorkHandle SelfCommunicator::all_reduce(const at::Tensor& tensor, ReduceOp) {
  check_tensor("all_reduce", tensor, device_);
  return std::make_shared<DoneWork>();  // sum, avg, max and min over one rank: the tensor itself
}

WorkHandle SelfCommunicator::reduce_scatter(const at::Tensor& output, const at::Tensor& input, ReduceOp) {
  check_reduce_scatter(output, input, 1, device_);
  if (output.data_ptr() != input.data_ptr()) output.copy_(input.view(output.sizes()));
  return std::make_shared<DoneWork>();
}

WorkHandle SelfCommunicator::all_gather(const at::Tensor& output, const at::Tensor& input) {
  check_all_gather(output, input, 1, device_);
  if (output.data_ptr() != input.data_ptr()) output.copy_(input.view(output.sizes()));
  return std::make_shared<DoneWork>();
}

WorkHandle SelfCommunicator::all_to_all(const at::Tensor& output, const at::Tensor& input) {
  check_all_to_all(output, input, 1, device_);
  if (output.data_ptr() != input.data_ptr()) output.copy_(input.view(output.sizes()));
  return std::make_shared<DoneWork>();
}

std::shared_ptr<Communicator> SelfCommunicator::split(int color, int) {
  if (color < 0) return nullptr;
  return std::make_shared<SelfCommunicator>(device_);
}

WorkHandle SelfCommunicator::broadcast(const at::Tensor& tensor, int root) {
  check_tensor("broadcast", tensor, device_);
  check_root("broadcast", root, 1);
  return std::make_shared<DoneWork>();
}

void SelfCommunicator::abort(const std::string& why) {
  std::fprintf(stderr, "[zeroshard] rank 0: aborting: %s\n", why.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

}  // namespace zs
