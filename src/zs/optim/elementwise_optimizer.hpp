// Optimizers whose update is a few ATen operations on each element, for masters on the device or
// in host memory alike (Lion, Adagrad). One class serves both places: make_optimizer hands it out
// for the device, make_host_optimizer for offloaded state, where the ZeRO step updates a slot
// piece by piece (step_range) or hands over pieces it keeps in files (step_piece). Pieces on the
// CPU take loops of their own (elementwise_cpu.hpp) that round as the operations do, so an
// offloaded run and one without offload agree bit for bit on the same kind of device.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/optim/elementwise_cpu.hpp"
#include "zs/optim/host_optimizer.hpp"

namespace zs::optim_detail {

class ElementwiseOptimizer : public HostOptimizer {
 public:
  using Optimizer::add_param;
  int add_param(const at::Tensor& master, double weight_decay) override;
  int add_external_slot(int64_t numel, double weight_decay) override;
  std::vector<std::string> state_keys() const override { return state_keys_; }
  double default_weight_decay() const override { return default_weight_decay_; }
  int num_slots() const override { return static_cast<int>(numels_.size()); }

  void begin_step() override { ++steps_; }
  void step_slots(const std::vector<int>& slots, const std::vector<at::Tensor>& grads, double lr,
                  const std::optional<at::Tensor>& grad_divisor) override;
  void step_range(int slot, int64_t begin, const at::Tensor& grad, double lr, double grad_divisor,
                  const at::Tensor& param16) override;
  void step_piece(int slot, const at::Tensor& master, const std::vector<at::Tensor>& state, const at::Tensor& grad,
                  double lr, double grad_divisor, const at::Tensor& param16) override;

  int64_t steps() const override { return steps_; }
  void set_steps(int64_t steps) override;
  std::map<std::string, at::Tensor> state(int slot) const override;
  std::string name() const override { return name_; }
  std::string describe() const override;

 protected:
  // `state_keys`: the fp32 tensors each slot keeps beside its master, zero-filled at the start.
  ElementwiseOptimizer(std::string name, std::vector<std::string> state_keys, double default_weight_decay,
                       bool pin_memory);

  // One update of elements of `slot`: `master` and `state` (fp32, one device) in place from `g`,
  // the fp32 gradient already divided by the step's divisor (a fresh tensor the update may change).
  virtual void update(int slot, const at::Tensor& master, const std::vector<at::Tensor>& state, at::Tensor g,
                      double lr) = 0;
  // The same update as loops over a piece on the CPU (elementwise_cpu.hpp), the same bits: what an
  // offloaded step runs. `piece.state` is the slot's one state tensor.
  virtual void update_cpu(int slot, const CpuPiece& piece, double lr) = 0;
  double weight_decay(int slot) const { return weight_decays_[static_cast<size_t>(slot)]; }

 private:
  const char* who() const { return name_.c_str(); }
  void check_slot(int slot) const;

  std::string name_;
  std::vector<std::string> state_keys_;
  double default_weight_decay_;
  bool pin_memory_;
  std::vector<at::Tensor> masters_;              // undefined: held by the caller (add_external_slot)
  std::vector<std::vector<at::Tensor>> states_;  // per slot, in state_keys_ order
  std::vector<double> weight_decays_;
  std::vector<int64_t> numels_;
  int64_t steps_ = 0;
};

}  // namespace zs::optim_detail
