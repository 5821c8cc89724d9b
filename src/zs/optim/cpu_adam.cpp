// Fused CPU Adam/AdamW: run-time choice of the SIMD flavour, the worker threads that split the
// range, and the tensor-level wrapper. The per-flavour loops live in cpu_adam_{scalar,avx2,avx512}.cpp.
#include "zs/optim/cpu_adam.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <c10/util/Exception.h>

#include "zs/config/env.hpp"
#include "zs/optim/cpu_adam_kernels.hpp"

namespace zs {
namespace cpu_adam_detail {

Coeffs make_coeffs(const CpuAdamArgs& a) {
  // Double math rounded to fp32 once, the order LibTorch's fused CPU kernel uses.
  const AdamHyper& h = a.hyper;
  const double step = static_cast<double>(a.step);
  const double bias_correction1 = 1 - std::pow(h.beta1, step);
  const double bias_correction2 = 1 - std::pow(h.beta2, step);
  const double step_size = h.lr / bias_correction1;

  Coeffs c;
  c.divide = a.grad_divisor != 1.0;
  c.grad_divisor = static_cast<float>(a.grad_divisor);
  const bool decay = h.weight_decay != 0.0;
  c.l2 = decay && !h.decoupled;
  c.weight_decay = static_cast<float>(h.weight_decay);
  c.decay_param = decay && h.decoupled;
  c.decay = static_cast<float>(1 - h.lr * h.weight_decay);
  // m = lerp(m, g, w) with w = 1 - beta1, in the form that is exact at w = 0 and w = 1.
  const float w = static_cast<float>(1 - h.beta1);
  c.lerp_from_m = std::abs(w) < 0.5f;
  c.lerp_coeff = c.lerp_from_m ? w : w - 1.0f;
  c.beta2 = static_cast<float>(h.beta2);
  c.one_minus_beta2 = static_cast<float>(1 - h.beta2);
  c.bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  c.eps = static_cast<float>(h.eps);
  c.neg_step_size = static_cast<float>(-step_size);
  return c;
}

}  // namespace cpu_adam_detail

namespace {

using RangeFn = void (*)(const CpuAdamArgs&, const cpu_adam_detail::Coeffs&, int64_t, int64_t);

// Below this many elements per thread, waking another thread costs more than it saves.
constexpr int64_t kMinElementsPerThread = 1 << 15;
// Threads start on 16-element (64-byte) boundaries so no two threads share a cache line of fp32.
constexpr int64_t kAlign = 16;

// Worker threads created once and reused: fn(i) runs for i in [0, count), i = 0 on the caller.
// One parallel call at a time; a second caller waits for the first. The pool is never destroyed:
// workers must stay valid for callers running during static destruction, and the OS reclaims them.
class WorkerPool {
 public:
  static WorkerPool& instance() {
    static std::mutex create_mutex;
    static WorkerPool* pool = nullptr;
    static pid_t owner = 0;
    std::lock_guard<std::mutex> lock(create_mutex);
    // A forked child has none of the parent's threads: it gets a pool of its own.
    if (!pool || owner != getpid()) {
      pool = new WorkerPool();
      owner = getpid();
    }
    return *pool;
  }

  void run(int count, const std::function<void(int)>& fn) {
    if (count <= 1) {
      fn(0);
      return;
    }
    std::lock_guard<std::mutex> call_lock(call_mutex_);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      while (static_cast<int>(workers_.size()) < count - 1) {
        const int index = static_cast<int>(workers_.size()) + 1;
        // The worker starts from the current generation, so it picks up the job set just below.
        const uint64_t seen = generation_;
        workers_.emplace_back([this, index, seen] { worker_loop(index, seen); });
        workers_.back().detach();
      }
      job_ = &fn;
      job_count_ = count;
      pending_ = count - 1;
      ++generation_;
    }
    wake_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void worker_loop(int index, uint64_t seen) {
    for (;;) {
      const std::function<void(int)>* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (index >= job_count_) continue;  // this call needs fewer threads
        job = job_;
      }
      (*job)(index);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex call_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  int job_count_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
};

CpuIsa best_isa() {
  static const CpuIsa best = [] {
    if (cpu_isa_supported(CpuIsa::kAvx512)) return CpuIsa::kAvx512;
    if (cpu_isa_supported(CpuIsa::kAvx2)) return CpuIsa::kAvx2;
    return CpuIsa::kScalar;
  }();
  return best;
}

RangeFn range_fn(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512: return &cpu_adam_detail::adam_range_avx512;
    case CpuIsa::kAvx2: return &cpu_adam_detail::adam_range_avx2;
    case CpuIsa::kScalar: return &cpu_adam_detail::adam_range_scalar;
  }
  return &cpu_adam_detail::adam_range_scalar;
}

void check_args(const CpuAdamArgs& a) {
  TORCH_CHECK(a.numel >= 0, "cpu_adam_step: numel must be >= 0, got ", a.numel);
  TORCH_CHECK(a.step >= 1, "cpu_adam_step: step must be >= 1 (1 for the first update), got ", a.step);
  TORCH_CHECK(a.grad_divisor > 0 && std::isfinite(a.grad_divisor),
              "cpu_adam_step: grad_divisor must be a positive finite number, got ", a.grad_divisor);
  TORCH_CHECK(!a.param16 || a.param16_dtype != CpuDtype::kFloat32,
              "cpu_adam_step: the 16-bit param copy must be bf16 or fp16");
  if (a.numel > 0) {
    TORCH_CHECK(a.param && a.grad && a.exp_avg && a.exp_avg_sq,
                "cpu_adam_step: param, grad, exp_avg and exp_avg_sq must all be given");
  }
}

}  // namespace

bool cpu_isa_supported(CpuIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  switch (isa) {
    case CpuIsa::kScalar: return true;
    case CpuIsa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
    case CpuIsa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return isa == CpuIsa::kScalar;
#endif
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar: return "scalar";
    case CpuIsa::kAvx2: return "avx2";
    case CpuIsa::kAvx512: return "avx512";
  }
  return "?";
}

CpuIsa cpu_adam_isa() {
  const char* env = std::getenv("ZS_CPU_ADAM_ISA");
  if (!env || !*env) return best_isa();
  const std::string name(env);
  CpuIsa isa;
  if (name == "scalar") {
    isa = CpuIsa::kScalar;
  } else if (name == "avx2") {
    isa = CpuIsa::kAvx2;
  } else if (name == "avx512") {
    isa = CpuIsa::kAvx512;
  } else {
    TORCH_CHECK(false, "ZS_CPU_ADAM_ISA=", name, " is not one of scalar, avx2, avx512");
  }
  TORCH_CHECK(cpu_isa_supported(isa), "ZS_CPU_ADAM_ISA=", name, ": this CPU does not support ", name);
  return isa;
}

int default_cpu_threads(double core_share) {
  TORCH_CHECK(core_share > 0 && core_share <= 1, "default_cpu_threads: core share ", core_share, " is not in (0, 1]");
  // ZS_CPU_ADAM_THREADS overrides (the CPU step is memory-bound: fewer threads than cores can
  // leave the threads that feed the GPU a core of their own at little cost).
  // (Clamped to 4096 threads: an int, and more than any host has cores.)
  if (const auto n = positive_int_from_env("ZS_CPU_ADAM_THREADS")) return static_cast<int>(std::min<int64_t>(*n, 4096));
  int cores = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = CPU_COUNT(&set);
  if (cores <= 0) cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int local_ranks = 1;
  if (const char* env = std::getenv("LOCAL_WORLD_SIZE")) {
    try {
      local_ranks = std::max(1, std::stoi(env));
    } catch (const std::exception&) {
      local_ranks = 1;
    }
  }
  return std::max(1, int(cores / local_ranks * core_share));
}

void cpu_adam_step_with_isa(const CpuAdamArgs& args, CpuIsa isa) {
  check_args(args);
  TORCH_CHECK(cpu_isa_supported(isa), "cpu_adam_step: this CPU does not support ", cpu_isa_name(isa));
  if (args.numel == 0) return;
  const cpu_adam_detail::Coeffs coeffs = cpu_adam_detail::make_coeffs(args);
  const RangeFn fn = range_fn(isa);

  const int64_t n = args.numel;
  const int requested = args.threads > 0 ? args.threads : default_cpu_threads();
  const int64_t useful = std::max<int64_t>(1, n / kMinElementsPerThread);
  const int threads = static_cast<int>(std::min<int64_t>(requested, useful));
  // Thread t streams one contiguous, 16-aligned slice.
  const int64_t blocks = (n + kAlign - 1) / kAlign;
  auto slice = [&](int t) {
    const int64_t begin = std::min(n, blocks * t / threads * kAlign);
    const int64_t end = std::min(n, blocks * (t + 1) / threads * kAlign);
    if (begin < end) fn(args, coeffs, begin, end);
  };
  WorkerPool::instance().run(threads, slice);
}

void cpu_adam_step(const CpuAdamArgs& args) { cpu_adam_step_with_isa(args, cpu_adam_isa()); }

namespace {

CpuDtype to_cpu_dtype(const at::Tensor& t, const char* what) {
  switch (t.scalar_type()) {
    case at::kFloat: return CpuDtype::kFloat32;
    case at::kBFloat16: return CpuDtype::kBFloat16;
    case at::kHalf: return CpuDtype::kFloat16;
    default:
      TORCH_CHECK(false, "cpu_adam_step: ", what, " must be float32, bfloat16 or float16, got ", t.scalar_type());
  }
}

void check_tensor(const at::Tensor& t, const char* what, int64_t numel) {
  TORCH_CHECK(t.defined(), "cpu_adam_step: ", what, " is undefined");
  TORCH_CHECK(t.device().is_cpu(), "cpu_adam_step: ", what, " must be on the CPU, got ", t.device());
  TORCH_CHECK(t.is_contiguous(), "cpu_adam_step: ", what, " must be contiguous");
  TORCH_CHECK(t.numel() == numel, "cpu_adam_step: ", what, " has ", t.numel(), " elements, param has ", numel);
}

}  // namespace

void cpu_adam_step(at::Tensor param, at::Tensor grad, at::Tensor exp_avg, at::Tensor exp_avg_sq,
                   std::optional<at::Tensor> param16_out, const AdamHyper& hyper, int64_t step,
                   double grad_divisor, int threads) {
  TORCH_CHECK(param.defined(), "cpu_adam_step: param is undefined");
  const int64_t n = param.numel();
  check_tensor(param, "param", n);
  check_tensor(grad, "grad", n);
  check_tensor(exp_avg, "exp_avg", n);
  check_tensor(exp_avg_sq, "exp_avg_sq", n);
  TORCH_CHECK(param.scalar_type() == at::kFloat, "cpu_adam_step: param must be float32, got ", param.scalar_type());
  TORCH_CHECK(exp_avg.scalar_type() == at::kFloat, "cpu_adam_step: exp_avg must be float32, got ",
              exp_avg.scalar_type());
  TORCH_CHECK(exp_avg_sq.scalar_type() == at::kFloat, "cpu_adam_step: exp_avg_sq must be float32, got ",
              exp_avg_sq.scalar_type());

  CpuAdamArgs args;
  args.numel = n;
  args.param = param.data_ptr<float>();
  args.grad = grad.const_data_ptr();
  args.grad_dtype = to_cpu_dtype(grad, "grad");
  args.exp_avg = exp_avg.data_ptr<float>();
  args.exp_avg_sq = exp_avg_sq.data_ptr<float>();
  if (param16_out && param16_out->defined()) {
    check_tensor(*param16_out, "param16_out", n);
    const CpuDtype d = to_cpu_dtype(*param16_out, "param16_out");
    TORCH_CHECK(d != CpuDtype::kFloat32, "cpu_adam_step: param16_out must be bfloat16 or float16, got ",
                param16_out->scalar_type());
    args.param16 = param16_out->data_ptr();
    args.param16_dtype = d;
  }
  args.hyper = hyper;
  args.step = step;
  args.grad_divisor = grad_divisor;
  args.threads = threads;
  cpu_adam_step(args);
}

}  // namespace zs
