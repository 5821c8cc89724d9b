#include "zs/monitor/flops_profiler.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "zs/base/clock.hpp"
#include "zs/monitor/format.hpp"

namespace zs {
namespace {

// A count with its SI prefix and unit: "10.65 M", "26.53 MMACs", "512 flops".
std::string scaled(double v, const std::string& unit = "") {
  static const std::pair<double, const char*> prefixes[] = {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "K"}};
  for (const auto& [scale, prefix] : prefixes)
    if (v >= scale) return printf_string("%.2f %s", v / scale, prefix) + unit;
  return printf_string("%.0f", v) + (unit.empty() ? "" : " " + unit);
}

std::string latency_text(double s) { return s >= 1 ? printf_string("%.2f s", s) : printf_string("%.2f ms", 1e3 * s); }

std::string percent(double part, double whole) { return whole > 0 ? printf_string("%.2f%%", 100.0 * part / whole) : "-"; }

int depth_of(const std::string& path) {
  return path.empty() ? 0 : 1 + int(std::count(path.begin(), path.end(), '.'));
}

bool under(const std::string& path, const std::string& ancestor) {
  return ancestor.empty() || path == ancestor || path.compare(0, ancestor.size() + 1, ancestor + ".") == 0;
}

}  // namespace

FlopsProfiler::FlopsProfiler(const FlopsProfilerConfig& config, torch::nn::Module& model, c10::Device device,
                             FlopsProfilerSetup setup)
    : config_(config), device_(device), setup_(setup), counter_(std::make_unique<FlopCounter>(device)) {
  for (const auto& item : model.named_modules("", /*include_self=*/true)) {
    ModuleInfo m;
    m.path = item.key();
    m.type = item.value()->name();
    m.depth = depth_of(m.path);
    for (const auto& p : item.value()->parameters(/*recurse=*/true)) m.params += p.numel();
    modules_.push_back(std::move(m));
  }
  if (!config_.output_file.empty() && setup_.rank == 0) {
    const auto parent = std::filesystem::path(config_.output_file).parent_path();
    std::error_code error;
    if (!parent.empty()) std::filesystem::create_directories(parent, error);
    std::ofstream probe(config_.output_file, std::ios::app);
    if (!probe) throw std::runtime_error("flops_profiler.output_file: cannot write " + config_.output_file);
  }
}

void FlopsProfiler::after_step(int64_t steps_done) {
  if (steps_done + 1 != config_.profile_step) return;
  counter_->start();
  if (device_.is_cuda()) {
#ifdef ZS_WITH_CUDA
    cuda_synchronize_device(device_.has_index() ? device_.index() : 0);
#endif
  }
  forward_start_ = steady_seconds();
}

void FlopsProfiler::before_backward() {
  if (!counter_->running()) return;
  counter_->stop();
  if (device_.is_cuda()) {
#ifdef ZS_WITH_CUDA
    cuda_synchronize_device(device_.has_index() ? device_.index() : 0);
#endif
  }
  forward_seconds_ = steady_seconds() - forward_start_;
  counted_ = true;
}

std::optional<FlopsProfile> FlopsProfiler::finish_step(int64_t step, double seconds) {
  if (step != config_.profile_step || !counted_) return std::nullopt;
  FlopsProfile p;
  p.step = step;
  p.forward_flops = counter_->total_flops();
  p.forward_seconds = forward_seconds_;
  p.step_seconds = seconds;
  const double factor = 3.0 + config_.recompute_fwd_factor;
  const double tokens = double(setup_.micro_batch * setup_.tokens_per_sample);
  if (tokens > 0) p.training_flops_per_token = factor * double(p.forward_flops) / tokens;
  if (setup_.peak_flops > 0 && seconds > 0) {
    // The whole step's work on this rank (every micro-step) over its wall time.
    p.mfu = factor * double(p.forward_flops) * double(setup_.gradient_accumulation) / seconds / setup_.peak_flops;
  }
  last_ = p;
  if (setup_.rank == 0) {
    const std::string text = report(p);
    if (config_.output_file.empty()) {
      std::fputs(text.c_str(), stdout);
      std::fflush(stdout);
    } else {
      std::ofstream out(config_.output_file, std::ios::app);
      out << text;
      if (!out) throw std::runtime_error("flops_profiler.output_file: cannot write " + config_.output_file);
      std::printf("[zeroshard] flops profile of step %lld written to %s\n", static_cast<long long>(step),
                  config_.output_file.c_str());
      std::fflush(stdout);
    }
  }
  return p;
}

std::optional<ScopeFlops> FlopsProfiler::measured(const ModuleInfo& m) const {
  const auto& scopes = counter_->scopes();
  ScopeFlops sum;
  bool found = m.path.empty();
  for (const auto& [name, s] : scopes) {
    if (!name.empty() && under(m.path, name) && name != m.path) return std::nullopt;  // inside a unit
    if (name.empty() ? m.path.empty() : under(name, m.path)) {
      if (!name.empty()) found = true;
      sum.flops += s.flops;
      sum.seconds += s.seconds;
      sum.calls += s.calls;
      for (const auto& [op, f] : s.op_flops) sum.op_flops[op] += f;
    }
  }
  if (!found) return std::nullopt;
  if (m.path.empty()) sum.seconds = forward_seconds_;
  return sum;
}

std::string FlopsProfiler::report(const FlopsProfile& p) const {
  const double fwd = double(p.forward_flops);
  const int64_t params = modules_.empty() ? 0 : modules_.front().params;
  const double tokens = double(setup_.micro_batch * setup_.tokens_per_sample);
  std::string t = "\n-------------------------- ZeroShard Flops Profiler --------------------------\n";
  t += printf_string("Profile Summary at step %lld:\n", static_cast<long long>(p.step));
  t += "Notations: parameters (params), multiply-accumulate operations (MACs), floating-point operations (flops),\n"
       "flops per second (FLOPS), forward latency (fwd latency): the first micro-step's forward; training flops =\n"
       "(3 + recompute_fwd_factor) x forward flops (backward = 2 x forward)\n\n";
  auto row = [&t](const std::string& name, const std::string& value) { t += printf_string("%-62s %s\n", name.c_str(), value.c_str()); };
  row("world size:", std::to_string(setup_.world_size));
  row("data parallel size:", std::to_string(setup_.world_size));
  row("batch size per rank (micro batch):", std::to_string(setup_.micro_batch));
  row("params of model:", scaled(double(params)));
  row("fwd MACs per rank:", scaled(fwd / 2, "MACs"));
  row("fwd flops per rank:", scaled(fwd));
  row("fwd latency:", latency_text(p.forward_seconds));
  row("fwd FLOPS per rank = fwd flops / fwd latency:",
      p.forward_seconds > 0 ? printf_string("%.4g TFLOPS", fwd / p.forward_seconds / 1e12) : "-");
  if (tokens > 0) {
    row("fwd flops per token:", scaled(fwd / tokens));
    row("training flops per token:", scaled(p.training_flops_per_token) + printf_string(" (%.6g)", p.training_flops_per_token));
    if (setup_.formula_flops_per_token > 0)
      row("the program's formula per token (GPT, Llama: 6N + 12*L*d*T):",
          scaled(setup_.formula_flops_per_token) +
              printf_string(" (%.6g); counted / formula = %.4f", setup_.formula_flops_per_token,
                            p.training_flops_per_token / setup_.formula_flops_per_token));
  }
  row("iter latency (the whole step, every micro-step):", latency_text(p.step_seconds));
  row("training FLOPS per rank (all micro-steps / iter latency):",
      p.step_seconds > 0 ? printf_string("%.4g TFLOPS", (3.0 + config_.recompute_fwd_factor) * fwd *
                                                             double(setup_.gradient_accumulation) / p.step_seconds / 1e12)
                         : "-");
  row("MFU (training FLOPS / peak):",
      p.mfu ? printf_string("%.2f%% of %.0f TFLOPS", 100.0 * *p.mfu, setup_.peak_flops / 1e12) : "- (no peak known)");
  const int depth_limit = config_.module_depth < 0 ? 1 << 20 : int(config_.module_depth);
  t += aggregated(depth_limit);
  if (config_.detailed) t += detailed(depth_limit);
  t += "------------------------------------------------------------------------------\n";
  return t;
}

std::string FlopsProfiler::aggregated(int depth_limit) const {
  std::string t = "\n----------------------------- Aggregated Profile per rank -----------------------------\n";
  t += printf_string("Top %lld modules in terms of params, MACs or fwd latency at different model depths:\n",
                     static_cast<long long>(config_.top_modules));
  int max_depth = 0;
  for (const ModuleInfo& m : modules_) max_depth = std::max(max_depth, m.depth);
  for (int d = 0; d <= std::min(max_depth, depth_limit); ++d) {
    struct Entry {
      std::string name;
      int64_t params;
      std::optional<ScopeFlops> flops;
    };
    std::vector<Entry> at_depth;
    for (const ModuleInfo& m : modules_)
      if (m.depth == d) at_depth.push_back({m.path.empty() ? m.type : m.path, m.params, measured(m)});
    auto top = [&](auto key, auto text) {
      std::vector<Entry> sorted = at_depth;
      std::stable_sort(sorted.begin(), sorted.end(), [&](const Entry& a, const Entry& b) { return key(a) > key(b); });
      std::string list;
      for (size_t i = 0; i < sorted.size() && int64_t(i) < config_.top_modules; ++i)
        list += (i ? ", '" : "'") + sorted[i].name + "': '" + text(sorted[i]) + "'";
      return "{" + list + "}";
    };
    t += printf_string("depth %d:\n", d);
    t += "    params      - " + top([](const Entry& e) { return double(e.params); },
                                   [](const Entry& e) { return scaled(double(e.params)); }) + "\n";
    t += "    MACs        - " + top([](const Entry& e) { return e.flops ? double(e.flops->flops) : -1.0; },
                                   [](const Entry& e) { return e.flops ? scaled(double(e.flops->flops) / 2, "MACs") : std::string("-"); }) + "\n";
    t += "    fwd latency - " + top([](const Entry& e) { return e.flops ? e.flops->seconds : -1.0; },
                                   [](const Entry& e) { return e.flops ? latency_text(e.flops->seconds) : std::string("-"); }) + "\n";
  }
  return t;
}

std::string FlopsProfiler::detailed(int depth_limit) const {
  std::string t = "\n------------------------------ Detailed Profile per rank ------------------------------\n";
  t += "Each module: params, share of params, MACs, share of MACs, fwd latency, share of latency, fwd FLOPS\n"
       "(MACs and latency are measured per unit and for the model; '-' inside units)\n\n";
  const ModuleInfo& root = modules_.front();
  const auto total = measured(root);
  const double total_flops = total ? double(total->flops) : 0, total_seconds = forward_seconds_;
  for (const ModuleInfo& m : modules_) {
    if (m.depth > depth_limit) continue;
    const std::string indent(2 * size_t(m.depth), ' ');
    std::string line = indent + (m.path.empty() ? m.type : "(" + m.path + "): " + m.type) + ": " +
                       scaled(double(m.params)) + " = " + percent(double(m.params), double(root.params)) + " Params";
    if (const auto f = measured(m)) {
      line += ", " + scaled(double(f->flops) / 2, "MACs") + " = " + percent(double(f->flops), total_flops) + " MACs, " +
              latency_text(f->seconds) + " = " + percent(f->seconds, total_seconds) + " latency, " +
              (f->seconds > 0 ? printf_string("%.4g TFLOPS", double(f->flops) / f->seconds / 1e12) : std::string("-"));
      if (m.path.empty()) {
        const auto outside = counter_->scopes().find("");
        if (outside != counter_->scopes().end())
          line += printf_string("\n%s  (outside units: %s = %s MACs)", indent.c_str(), scaled(double(outside->second.flops) / 2, "MACs").c_str(),
                                percent(double(outside->second.flops), total_flops).c_str());
      } else {
        std::string ops;
        for (const auto& [op, f_op] : f->op_flops) ops += (ops.empty() ? "" : ", ") + op + " " + scaled(double(f_op), "flops");
        if (!ops.empty()) line += " [" + ops + "]";
      }
    }
    t += line + "\n";
  }
  return t;
}

}  // namespace zs
