// The communicator of a one-rank world: every collective's result is the rank's own data.
#pragma once

#include "zs/dist/communicator.hpp"

#include <c10/core/Device.h>

namespace zs {

class SelfCommunicator : public Communicator {
 public:
  explicit SelfCommunicator(c10::Device device = c10::Device(c10::kCPU)) : device_(device) {}

  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "self"; }

  WorkHandle all_reduce(const at::Tensor& tensor, ReduceOp op) override;
  WorkHandle reduce_scatter(const at::Tensor& output, const at::Tensor& input, ReduceOp op) override;
  WorkHandle all_gather(const at::Tensor& output, const at::Tensor& input) override;
  WorkHandle all_to_all(const at::Tensor& output, const at::Tensor& input) override;
  WorkHandle broadcast(const at::Tensor& tensor, int root) override;
  void barrier() override {}
  std::shared_ptr<Communicator> split(int color, int key) override;
  [[noreturn]] void abort(const std::string& why) override;

 private:
  c10::Device device_;
};

}  // namespace zs
