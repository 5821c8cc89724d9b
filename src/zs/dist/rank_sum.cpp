#include "zs/dist/rank_sum.hpp"

#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

namespace zs {
namespace {

struct RankSumBackward : torch::autograd::Node {
  std::shared_ptr<Communicator> comm;

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    if (!grads.at(0).defined()) return {at::Tensor()};
    at::Tensor summed = grads[0].clone();
    comm->all_reduce(summed, ReduceOp::sum)->wait();
    return {summed};
  }
  std::string name() const override { return "zs::RankSumBackward"; }
};

}  // namespace

at::Tensor differentiable_rank_sum(const at::Tensor& tensor, const std::shared_ptr<Communicator>& comm) {
  at::Tensor summed = tensor.detach().clone();
  comm->all_reduce(summed, ReduceOp::sum)->wait();
  if (c10::GradMode::is_enabled() && tensor.requires_grad()) {
    auto node = std::make_shared<RankSumBackward>();
    node->comm = comm;
    node->set_next_edges(torch::autograd::collect_next_edges(tensor));
    torch::autograd::set_history(summed, node);
  }
  return summed;
}

std::function<at::Tensor(const at::Tensor&)> differentiable_rank_sum(std::shared_ptr<Communicator> comm) {
  return [comm = std::move(comm)](const at::Tensor& t) { return differentiable_rank_sum(t, comm); };
}

}  // namespace zs
