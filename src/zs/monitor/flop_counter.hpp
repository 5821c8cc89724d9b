#pragma once
// The flops profiler's counter: while it runs, a LibTorch RecordFunction callback sees every
// operator this thread calls and adds its FLOPs, from exact formulas over the input shapes, to the
// unit it runs in (units run inside "zs_unit:<path>" user scopes, zero/unit_runner.cpp; operators
// outside every unit count for the model itself, scope ""). A unit's latency is its forward's wall
// time, the device synchronized at both ends (as DeepSpeed's profiler times modules).
//
// Counted operators (2 FLOPs per multiply-accumulate; an operator called inside a counted one is
// not counted again):
//   aten::mm, aten::addmm                     2·m·k·n
//   aten::bmm, aten::baddbmm                  2·b·m·k·n
//   scaled-dot-product attention kernels      2·B·H·T·S·(D + Dv)   (QKᵀ and the product with V, the
//     (flash, flash_for_cpu, efficient, cudnn)                       full T×S, as 12·L·d·T counts it)
// Element-wise operators, norms and softmax are not counted (well under 1% of a transformer's).
#include <c10/core/Device.h>
#include <ATen/core/ivalue.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace zs {

struct ScopeFlops {
  int64_t flops = 0;
  double seconds = 0;   // forward latency (units only)
  int64_t calls = 0;    // forward calls (units only)
  std::map<std::string, int64_t> op_flops;   // per operator name
};

class FlopCounter {
 public:
  explicit FlopCounter(c10::Device device);
  ~FlopCounter();
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;

  // Counts the operators the calling thread runs from now until stop(). One counter at a time.
  void start();
  void stop();
  bool running() const { return handle_ != 0; }

  // Per scope: unit path, or "" for operators outside every unit.
  const std::map<std::string, ScopeFlops>& scopes() const { return scopes_; }
  int64_t total_flops() const;

  // FLOPs of one call of `op` with these inputs; 0 for operators not counted.
  static int64_t op_flops(const std::string& op, c10::ArrayRef<const c10::IValue> inputs);
  static bool counted(const std::string& op);

  // Called by the RecordFunction callbacks.
  void enter_unit(const std::string& name);
  void leave_unit();
  void add(const std::string& op, int64_t flops);
  // Operators now are a training forward's (gradients on, or inside a unit entered with them):
  // evaluations between steps are not counted.
  bool training_forward() const;

 private:
  void synchronize() const;

  c10::Device device_;
  uint64_t handle_ = 0;
  std::map<std::string, ScopeFlops> scopes_;
  struct OpenUnit {
    std::string name;
    double start;
    bool training;
  };
  std::vector<OpenUnit> open_;

 public:
  uint64_t thread_ = 0;   // the RecordFunction thread id counted
  int counted_depth_ = 0; // counted operators open on that thread
};

#ifdef ZS_WITH_CUDA
void cuda_synchronize_device(c10::DeviceIndex index);   // flop_counter_cuda.cpp
#endif

}  // namespace zs
