// Optimizers for offloaded optimizer state ("offload_optimizer": {"device": "cpu"}): the fp32
// master weights and the optimizer state live in host memory and the update runs on the CPU.
//
// Besides the Optimizer interface they update a slot piece by piece (step_range), so the ZeRO
// step can overlap the copy of one piece's gradient with the update of the previous one
// (zero/state/host_state_store.hpp), and they can write the updated values as bf16/fp16 in the
// same pass, ready to go back to the device. State names equal the device optimizers' (exp_avg, exp_avg_sq,
// momentum_buffer), so checkpoints of offloaded and device runs are interchangeable.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/optim/optimizer.hpp"

namespace zs {

class HostOptimizer : public Optimizer {
 public:
  // Updates elements [begin, begin + grad.numel()) of `slot` (after begin_step(), once per step,
  // as for step_slots). `grad`: contiguous host tensor, fp32, bf16 or fp16, divided by
  // `grad_divisor` as it is read. `param16`, when defined: a contiguous bf16/fp16 host tensor of
  // grad.numel() elements that receives the updated values. Pieces of one slot may be updated in
  // any order; each element exactly once per step.
  virtual void step_range(int slot, int64_t begin, const at::Tensor& grad, double lr, double grad_divisor,
                          const at::Tensor& param16) = 0;

  // Where and how the update runs ("AVX2, 8 threads"), for the engine's summary line.
  virtual std::string describe() const = 0;

  // Slots whose master and state the caller keeps (NVMe offload keeps them in files and hands
  // them over a piece at a time, zero/state/nvme_state_store.hpp). add_external_slot registers a
  // slot of `numel` elements and allocates nothing; state(slot) of such a slot is empty and step_range
  // refuses it: step_piece updates it instead.
  virtual int add_external_slot(int64_t numel, double weight_decay) = 0;
  // Names of the fp32 state tensors of every slot, in the order step_piece takes them:
  // exp_avg, exp_avg_sq (Adam); momentum_buffer (SGD with momentum); none (plain SGD); exp_avg
  // (Lion); sum (Adagrad).
  virtual std::vector<std::string> state_keys() const = 0;
  // step_range on caller-held pieces: `master` and state[k] (contiguous fp32, grad.numel()
  // elements each) are elements [begin, begin + n) of `slot`, updated in place.
  virtual void step_piece(int slot, const at::Tensor& master, const std::vector<at::Tensor>& state,
                          const at::Tensor& grad, double lr, double grad_divisor, const at::Tensor& param16) = 0;
};

// The host optimizer the config names: Adam/AdamW on the fused SIMD CPU kernel (cpu_adam.hpp),
// SGD on LibTorch's fused CPU kernel, Lion and Adagrad on LibTorch's CPU operations; the same update
// rules as make_optimizer's. Throws
// ConfigError as make_optimizer does. `pin_memory`: allocate the state in pinned (page-locked)
// memory, which only a CUDA build can.
// `cpu_adam_core_share` (0, 1]: the share of this rank's cores the CPU Adam step uses (super_offload's
// cpuadam_cores_perc, leaving the rest to the threads that drive the device); ZS_CPU_ADAM_THREADS
// overrides it. The host SGD step runs on LibTorch's threads and takes only 1.
std::unique_ptr<HostOptimizer> make_host_optimizer(const OptimizerConfig& config, bool pin_memory,
                                                   double cpu_adam_core_share = 1.0);

// Whether make_host_optimizer runs this config's step on the SIMD CPU Adam (Adam and AdamW), the
// one host step that takes a core share.
bool runs_on_cpu_adam(const OptimizerConfig& config);

namespace optim_detail {
// Concrete host optimizers (make_host_optimizer picks one).
std::unique_ptr<HostOptimizer> make_host_adam(const OptimizerConfig& config, bool decoupled, bool pin_memory,
                                              int threads);
std::unique_ptr<HostOptimizer> make_host_sgd(const OptimizerConfig& config, bool pin_memory);
// Lion and Adagrad: one class for masters on the device and in host memory (elementwise_optimizer.hpp).
std::unique_ptr<HostOptimizer> make_lion(const OptimizerConfig& config, bool pin_memory);
std::unique_ptr<HostOptimizer> make_adagrad(const OptimizerConfig& config, bool pin_memory);
// A zero-filled fp32 host tensor shaped like `like`, pinned when asked.
at::Tensor host_zeros_like(const at::Tensor& like, bool pin_memory);
}  // namespace optim_detail

}  // namespace zs
