// Units: the modules whose parameters ZeRO stage 3 gathers together before their forward (and
// backward) and releases after, and whose activations can be checkpointed at any stage.
//
// Any module can be a unit, with any forward signature. A model marks a unit type with one line,
// in place of TORCH_MODULE:
//
//   class DecoderLayerImpl : public torch::nn::Module {
//    public:
//     at::Tensor forward(const at::Tensor& h, const at::Tensor& cos, const at::Tensor& sin);
//   };
//   ZS_UNIT_MODULE(DecoderLayer);            // was: TORCH_MODULE(DecoderLayer);
//
// and calls it through that holder type (`layer->as<DecoderLayer>()->forward(h, cos, sin)`, or
// `DecoderLayer` members): the holder's type is zs::Unit<DecoderLayerImpl>, which derives from the
// Impl. Without an engine a unit's forward is the Impl's forward, nothing else, so a marked model
// runs (and trains with any optimizer) without ZeroShard. An engine installs hooks on every unit
// (UnitHooks below) that run the forward its way: at stage 3 gathering the parameters first and
// releasing them after, at every stage with activation checkpointing when asked for.
//
// Built-in modules and children of containers become units without a class of their own:
// `seq->push_back(zs::Unit<torch::nn::LinearImpl>(4, 4))`, or zs::make_units(sequential) for the
// children of an existing torch::nn::Sequential (zero/sequential_units.hpp).
//
// Arguments and results may be tensors, std::optional<at::Tensor>, std::vector<at::Tensor>,
// std::tuple/std::pair of those, numbers, enums and strings; other types take a specialisation of
// zs::UnitTensors<T> (how to list a value's tensors and rebuild it around new ones). The forward
// must be a single non-template member without default arguments. Header-only: marking a model's
// units does not make it depend on the engine.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace zs {

// A unit's own computation over the tensors among its arguments (in argument order), returning the
// tensors among its results. Engines run it once per forward, and again in backward under
// activation checkpointing (with new input tensors).
using UnitBody = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>& inputs)>;

// True on a thread while it recomputes a checkpointed forward in backward. Layers whose forward
// updates state (BatchNorm's running statistics) leave that state alone then: the forward already
// updated it once for this batch.
inline bool& recomputing_forward() {
  thread_local bool recomputing = false;
  return recomputing;
}

// The module whose forward a checkpoint is recomputing at the top of the recomputation (the unit
// itself), or null.
inline const torch::nn::Module*& recomputed_unit() {
  thread_local const torch::nn::Module* unit = nullptr;
  return unit;
}

// True while `module`'s forward runs as the recomputation of its own checkpointed unit. Backward
// then differentiates the forward's result but never reads its values, so a module may end with
// steps that build the result's autograd history without computing it (a residual added to a
// projection: models/device_layers.hpp's sum_unevaluated and DeviceLinear::forward_unevaluated).
// Inside that forward, other modules (nested units included) see false: their results are read.
inline bool result_is_unread(const torch::nn::Module& module) {
  return recomputing_forward() && recomputed_unit() == &module;
}

// Marks the current thread as recomputing for the guard's lifetime; `unit`, when given, is the
// module whose forward is recomputed (result_is_unread).
class RecomputeGuard {
 public:
  explicit RecomputeGuard(const torch::nn::Module* unit = nullptr)
      : previous_(recomputing_forward()), previous_unit_(recomputed_unit()) {
    recomputing_forward() = true;
    recomputed_unit() = unit;
  }
  ~RecomputeGuard() {
    recomputing_forward() = previous_;
    recomputed_unit() = previous_unit_;
  }
  RecomputeGuard(const RecomputeGuard&) = delete;
  RecomputeGuard& operator=(const RecomputeGuard&) = delete;

 private:
  bool previous_;
  const torch::nn::Module* previous_unit_;
};

class UnitBase;

// How an engine runs a unit's forward (installed by the engine; see zero/unit_runner.hpp).
class UnitHooks {
 public:
  virtual ~UnitHooks() = default;
  virtual std::vector<at::Tensor> run(UnitBase& unit, const UnitBody& body, const std::vector<at::Tensor>& inputs) = 0;
};

// What an engine sees of every unit, whatever its module type.
class UnitBase {
 public:
  virtual ~UnitBase() = default;
  // The module whose parameters are the unit's (the unit itself, or the module it wraps).
  virtual torch::nn::Module& unit_module() = 0;

  void set_unit_hooks(UnitHooks* hooks) { hooks_ = hooks; }
  UnitHooks* unit_hooks() const { return hooks_; }
  // Keep no activations of this unit; recompute them in backward (takes effect under an engine).
  void set_activation_checkpointing(bool on) { checkpoint_activations_ = on; }
  bool activation_checkpointing() const { return checkpoint_activations_; }

 private:
  UnitHooks* hooks_ = nullptr;
  bool checkpoint_activations_ = false;
};

// How a value of type T lists its tensors and is rebuilt around replacements. Specialise it for
// argument or result types of your own.
template <class T, class Enable = void>
struct UnitTensors {
  static_assert(std::is_arithmetic_v<T> || std::is_enum_v<T> || std::is_same_v<T, std::string> ||
                    std::is_same_v<T, std::nullptr_t>,
                "zs::Unit: an argument or result type it cannot see into; specialise zs::UnitTensors<T> for it");
  static void collect(const T&, std::vector<at::Tensor>&) {}
  static T rebuild(const T& like, const std::vector<at::Tensor>&, size_t&) { return like; }
};

template <>
struct UnitTensors<at::Tensor> {
  static void collect(const at::Tensor& t, std::vector<at::Tensor>& out) { out.push_back(t); }
  static at::Tensor rebuild(const at::Tensor&, const std::vector<at::Tensor>& ts, size_t& k) { return ts.at(k++); }
};

template <class T>
struct UnitTensors<std::optional<T>> {
  static void collect(const std::optional<T>& v, std::vector<at::Tensor>& out) {
    if (v) UnitTensors<T>::collect(*v, out);
  }
  static std::optional<T> rebuild(const std::optional<T>& like, const std::vector<at::Tensor>& ts, size_t& k) {
    if (!like) return std::nullopt;
    return UnitTensors<T>::rebuild(*like, ts, k);
  }
};

template <class T>
struct UnitTensors<std::vector<T>> {
  static void collect(const std::vector<T>& v, std::vector<at::Tensor>& out) {
    for (const T& x : v) UnitTensors<T>::collect(x, out);
  }
  static std::vector<T> rebuild(const std::vector<T>& like, const std::vector<at::Tensor>& ts, size_t& k) {
    std::vector<T> out;
    out.reserve(like.size());
    for (const T& x : like) out.push_back(UnitTensors<T>::rebuild(x, ts, k));
    return out;
  }
};

template <class... T>
struct UnitTensors<std::tuple<T...>> {
  static void collect(const std::tuple<T...>& v, std::vector<at::Tensor>& out) {
    std::apply([&out](const T&... x) { (UnitTensors<T>::collect(x, out), ...); }, v);
  }
  static std::tuple<T...> rebuild(const std::tuple<T...>& like, const std::vector<at::Tensor>& ts, size_t& k) {
    // Braced initialisation evaluates left to right, so the tensors are taken in order.
    return std::apply([&](const T&... x) { return std::tuple<T...>{UnitTensors<T>::rebuild(x, ts, k)...}; }, like);
  }
};

template <class A, class B>
struct UnitTensors<std::pair<A, B>> {
  static void collect(const std::pair<A, B>& v, std::vector<at::Tensor>& out) {
    UnitTensors<A>::collect(v.first, out);
    UnitTensors<B>::collect(v.second, out);
  }
  static std::pair<A, B> rebuild(const std::pair<A, B>& like, const std::vector<at::Tensor>& ts, size_t& k) {
    A a = UnitTensors<A>::rebuild(like.first, ts, k);
    return {std::move(a), UnitTensors<B>::rebuild(like.second, ts, k)};
  }
};

namespace unit_detail {

// The arguments as the body keeps them: by value, with their tensors dropped (the body receives
// the tensors anew on every run, so the originals need not stay alive).
template <class... Args>
std::tuple<Args...> without_tensors(const Args&... args) {
  std::vector<at::Tensor> all;
  (UnitTensors<Args>::collect(args, all), ...);
  const std::vector<at::Tensor> empty(all.size());
  size_t k = 0;
  return std::tuple<Args...>{UnitTensors<Args>::rebuild(args, empty, k)...};
}

// Runs `body` through the unit's hooks: the forward of every Unit<M> and of wrapped modules.
template <class R>
R run_hooked(UnitBase& unit, UnitHooks& hooks, const std::vector<at::Tensor>& inputs,
             const std::function<R(const std::vector<at::Tensor>&)>& call) {
  static_assert(!std::is_void_v<R>, "zs::Unit: a unit's forward must return its result");
  // The first run's result gives the shape (its non-tensor parts) to rebuild around the outputs.
  // It keeps no tensor: the body outlives the forward (activation checkpointing keeps it for the
  // recompute), and an output kept here would hold its own autograd node, which holds the body:
  // a cycle that leaked every checkpointed unit's inputs and outputs, step after step.
  auto shape = std::make_shared<std::optional<R>>();
  UnitBody body = [call, shape](const std::vector<at::Tensor>& xs) {
    R r = call(xs);
    std::vector<at::Tensor> out;
    UnitTensors<R>::collect(r, out);
    if (!*shape) {
      const std::vector<at::Tensor> none(out.size());
      size_t k = 0;
      shape->emplace(UnitTensors<R>::rebuild(r, none, k));
    }
    return out;
  };
  const std::vector<at::Tensor> outputs = hooks.run(unit, body, inputs);
  size_t k = 0;
  return UnitTensors<R>::rebuild(**shape, outputs, k);
}

}  // namespace unit_detail

// Module type M marked as a unit (see the top of this file). Its forward has M's signature.
template <class M, class Forward = decltype(&M::forward)>
class Unit;

// (C: the class that declares the forward, M itself or a base of it.)
template <class M, class C, class R, class... Args>
class Unit<M, R (C::*)(Args...)> : public M, public UnitBase {
 public:
  using M::M;
  Unit() = default;

  R forward(Args... args) {
    UnitHooks* hooks = unit_hooks();
    if (!hooks) return M::forward(std::forward<Args>(args)...);
    std::vector<at::Tensor> inputs;
    (UnitTensors<std::decay_t<Args>>::collect(args, inputs), ...);
    auto kept = std::make_shared<std::tuple<std::decay_t<Args>...>>(unit_detail::without_tensors<std::decay_t<Args>...>(args...));
    std::function<R(const std::vector<at::Tensor>&)> call = [this, kept](const std::vector<at::Tensor>& xs) {
      size_t k = 0;
      auto rebuilt = std::apply(
          [&](const auto&... a) {
            return std::tuple<std::decay_t<Args>...>{UnitTensors<std::decay_t<decltype(a)>>::rebuild(a, xs, k)...};
          },
          *kept);
      return std::apply([this](auto&... a) -> R { return this->M::forward(a...); }, rebuilt);
    };
    return unit_detail::run_hooked<R>(*this, *hooks, inputs, call);
  }

  torch::nn::Module& unit_module() override { return *this; }
};

}  // namespace zs

// The holder `Name` for `Name##Impl`, marked as a unit: use it in place of TORCH_MODULE(Name).
#define ZS_UNIT_MODULE(Name) TORCH_MODULE_IMPL(Name, ::zs::Unit<Name##Impl>)
