// make_graphed_loss (graphed_loss.hpp): the checks every build makes; GraphedLoss itself is in
// graphed_loss_cuda.cpp, GPU builds only.
#include "zs/engine/graphed_loss.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "zs/engine/engine.hpp"

namespace zs {

GraphedLoss::LossFn make_graphed_loss(const Engine& engine, torch::nn::Module& module, GraphedLoss::LossFn loss) {
  const std::string obstacle = engine.cuda_graph_obstacle();
  if (!obstacle.empty()) throw std::invalid_argument(obstacle);
#ifdef ZS_WITH_CUDA
  std::vector<at::Tensor> params, buffers;
  for (const at::Tensor& p : module.parameters(/*recurse=*/true))
    if (p.requires_grad()) params.push_back(p);
  for (const at::Tensor& b : module.buffers(/*recurse=*/true)) buffers.push_back(b);
  auto graphed = std::make_shared<GraphedLoss>(std::move(loss), std::move(params), std::move(buffers));
  return [graphed](const std::vector<at::Tensor>& batch) { return (*graphed)(batch); };
#else
  throw std::invalid_argument("this build of ZeroShard has no CUDA");
#endif
}

}  // namespace zs
