#include "zs/monitor/flop_counter.hpp"

#include <ATen/record_function.h>
#include <c10/core/GradMode.h>

#include <cstring>
#include <stdexcept>

#include "zs/base/clock.hpp"

namespace zs {
namespace {

FlopCounter* active = nullptr;   // the one running counter
constexpr const char* kUnitPrefix = "zs_unit:";

// What the start callback hands its end callback.
struct CounterContext : at::ObserverContext {
  enum Kind { unit, op } kind;
  explicit CounterContext(Kind k) : kind(k) {}
};

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  FlopCounter* c = active;
  if (!c || fn.threadId() != c->thread_) return nullptr;
  const char* name = fn.name();
  if (fn.scope() == at::RecordScope::USER_SCOPE) {
    if (std::strncmp(name, kUnitPrefix, std::strlen(kUnitPrefix)) != 0) return nullptr;
    c->enter_unit(name + std::strlen(kUnitPrefix));
    return std::make_unique<CounterContext>(CounterContext::unit);
  }
  if (!FlopCounter::counted(name)) return nullptr;
  if (c->counted_depth_ == 0 && c->training_forward()) c->add(name, FlopCounter::op_flops(name, fn.inputs()));
  c->counted_depth_ += 1;
  return std::make_unique<CounterContext>(CounterContext::op);
}

void on_end(const at::RecordFunction& fn, at::ObserverContext* context) {
  FlopCounter* c = active;
  auto* ctx = static_cast<CounterContext*>(context);
  if (!c || !ctx) return;
  if (ctx->kind == CounterContext::unit) {
    c->leave_unit();
  } else {
    c->counted_depth_ -= 1;
  }
}

std::vector<int64_t> shape(c10::ArrayRef<const c10::IValue> inputs, size_t i) {
  if (i >= inputs.size() || !inputs[i].isTensor()) return {};
  return inputs[i].toTensor().sizes().vec();
}

}  // namespace

FlopCounter::FlopCounter(c10::Device device) : device_(device) {}

FlopCounter::~FlopCounter() { stop(); }

bool FlopCounter::counted(const std::string& op) {
  return op == "aten::mm" || op == "aten::addmm" || op == "aten::bmm" || op == "aten::baddbmm" ||
         op == "aten::_scaled_dot_product_flash_attention" || op == "aten::_scaled_dot_product_flash_attention_for_cpu" ||
         op == "aten::_scaled_dot_product_efficient_attention" || op == "aten::_scaled_dot_product_cudnn_attention";
}

int64_t FlopCounter::op_flops(const std::string& op, c10::ArrayRef<const c10::IValue> inputs) {
  if (op == "aten::mm" || op == "aten::addmm") {
    const size_t a = op == "aten::mm" ? 0 : 1;
    const auto x = shape(inputs, a), w = shape(inputs, a + 1);
    if (x.size() != 2 || w.size() != 2) return 0;
    return 2 * x[0] * x[1] * w[1];
  }
  if (op == "aten::bmm" || op == "aten::baddbmm") {
    const size_t a = op == "aten::bmm" ? 0 : 1;
    const auto x = shape(inputs, a), w = shape(inputs, a + 1);
    if (x.size() != 3 || w.size() != 3) return 0;
    return 2 * x[0] * x[1] * x[2] * w[2];
  }
  if (counted(op)) {   // attention: query [B, H, T, D], key [B, H, S, D], value [B, H, S, Dv]
    const auto q = shape(inputs, 0), k = shape(inputs, 1), v = shape(inputs, 2);
    if (q.size() != 4 || k.size() != 4 || v.size() != 4) return 0;
    return 2 * q[0] * q[1] * q[2] * k[2] * (q[3] + v[3]);
  }
  return 0;
}

void FlopCounter::start() {
  if (active) throw std::logic_error("FlopCounter: another counter is running");
  active = this;
  thread_ = at::RecordFunction::currentThreadId();
  counted_depth_ = 0;
  open_.clear();
  handle_ = at::addGlobalCallback(at::RecordFunctionCallback(on_start, on_end)
                                      .needsInputs(true)
                                      .scopes({at::RecordScope::FUNCTION, at::RecordScope::USER_SCOPE}));
}

void FlopCounter::stop() {
  if (!handle_) return;
  at::removeCallback(handle_);
  handle_ = 0;
  active = nullptr;
}

void FlopCounter::synchronize() const {
#ifdef ZS_WITH_CUDA
  if (device_.is_cuda()) cuda_synchronize_device(device_.has_index() ? device_.index() : 0);
#endif
}

bool FlopCounter::training_forward() const {
  return open_.empty() ? c10::GradMode::is_enabled() : open_.back().training;
}

void FlopCounter::enter_unit(const std::string& name) {
  // A unit entered without gradients is an evaluation's (a checkpointed unit's body runs without
  // them, but inside a unit entered with them).
  const bool training = training_forward();
  if (training) synchronize();
  open_.push_back({name, steady_seconds(), training});
}

void FlopCounter::leave_unit() {
  if (open_.empty()) return;
  if (open_.back().training) {
    synchronize();
    ScopeFlops& s = scopes_[open_.back().name];
    s.seconds += steady_seconds() - open_.back().start;
    s.calls += 1;
  }
  open_.pop_back();
}

void FlopCounter::add(const std::string& op, int64_t flops) {
  ScopeFlops& s = scopes_[open_.empty() ? std::string() : open_.back().name];
  s.flops += flops;
  s.op_flops[op] += flops;
}

int64_t FlopCounter::total_flops() const {
  int64_t total = 0;
  for (const auto& [name, s] : scopes_) total += s.flops;
  return total;
}

}  // namespace zs
