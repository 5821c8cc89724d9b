#include "zs/monitor/step_logger.hpp"

#include <iostream>
#include <stdexcept>

#include "zs/monitor/format.hpp"
#include "zs/monitor/progress_bar.hpp"

namespace zs {

Throughput compute_throughput(const StepWindow& window, int world_size, double flops_per_token, double peak_flops) {
  Throughput t;
  if (window.timed_steps <= 0 || window.seconds <= 0.0) return t;
  t.valid = true;
  const double tokens_per_s = static_cast<double>(window.tokens) / window.seconds;
  t.tokens_per_s_per_device = tokens_per_s / static_cast<double>(world_size);
  t.samples_per_s = static_cast<double>(window.samples) / window.seconds;
  t.ms_per_step = 1e3 * window.seconds / static_cast<double>(window.timed_steps);
  if (peak_flops > 0.0 && flops_per_token > 0.0)
    t.mfu = t.tokens_per_s_per_device * flops_per_token / peak_flops;
  return t;
}

std::string format_step_line(const StepStats& last, int64_t total_steps, const Throughput& rates,
                             const std::optional<MemoryStats>& memory, int64_t skipped_in_window,
                             const std::string& sample_name, const char* device_word, int world_size) {
  std::string line = total_steps > 0 ? printf_string("step %lld/%lld", static_cast<long long>(last.step),
                                                     static_cast<long long>(total_steps))
                                     : printf_string("step %lld", static_cast<long long>(last.step));
  line += printf_string(" | loss %.4f | lr %.2e", last.loss, last.lr);
  if (last.loss_scale != 1.0) line += printf_string(" | scale %.0f", last.loss_scale);
  if (last.grad_norm >= 0.0) line += printf_string(" | grad norm %.3g", last.grad_norm);
  // Models without tokens (images) get samples/s alone: a "0 tok/s" column would say nothing.
  const bool tokens = last.tokens > 0;
  if (tokens) {
    if (rates.valid) {
      line += " | " + format_si(rates.tokens_per_s_per_device) + " tok/s";
      line += printf_string(" | %.1f samples/s", rates.samples_per_s);
      line += rates.mfu ? printf_string(" | MFU %.1f%%", 100.0 * *rates.mfu) : std::string(" | MFU -");
    } else {
      line += " | - tok/s | - samples/s | MFU -";
    }
  } else if (rates.valid) {
    line += printf_string(" | %.1f %s/s", rates.samples_per_s, sample_name.c_str());
    if (world_size > 1) line += printf_string(" (%.1f per %s)", rates.samples_per_s / world_size, device_word);
  } else {
    line += " | - " + sample_name + "/s";
  }
  if (memory) {
    line += printf_string(" | mem %.2f GiB (peak %.2f)", static_cast<double>(memory->allocated) / (1 << 30),
                          static_cast<double>(memory->peak_allocated) / (1 << 30));
  }
  line += rates.valid ? printf_string(" | %.2f ms/step", rates.ms_per_step) : std::string(" | - ms/step");
  if (skipped_in_window > 0)
    line += printf_string(" | %lld skipped (overflow)", static_cast<long long>(skipped_in_window));
  return line;
}

StepLogger::StepLogger(int rank, int64_t steps_per_print, double flops_per_token, double peak_flops_per_device,
                       int world_size, int64_t total_steps, c10::Device device, std::ostream* out)
    : rank_(rank),
      steps_per_print_(steps_per_print),
      flops_per_token_(flops_per_token),
      peak_flops_(peak_flops_per_device),
      world_size_(world_size),
      total_steps_(total_steps),
      device_(device),
      out_(out ? out : &std::cout) {
  if (steps_per_print <= 0) throw std::invalid_argument("steps_per_print must be positive");
  if (world_size <= 0) throw std::invalid_argument("world_size must be positive");
  if (peak_flops_ <= 0.0) peak_flops_ = device.is_cuda() ? kDefaultCudaPeakFlops : 0.0;
}

std::string StepLogger::header(bool tokens) const {
  // Ranks on CPUs are processes, not devices: say "rank" there and "GPU" on GPUs.
  const char* unit = device_.is_cuda() ? "GPU" : "rank";
  std::string h = printf_string("training on %d %s%s (%s): ", world_size_, unit, world_size_ == 1 ? "" : "s",
                                device_.is_cuda() ? "cuda" : device_.str().c_str());
  h += tokens ? printf_string("tok/s and MFU are per %s, samples/s for all", unit)
              : sample_name_ + "/s for all ranks" + (world_size_ > 1 ? printf_string(" (and per %s)", unit) : "");
  if (tokens && peak_flops_ > 0.0) {
    h += printf_string("; MFU against %.0f TFLOP/s peak, %s FLOPs/token", peak_flops_ / 1e12,
                       format_si(flops_per_token_).c_str());
  }
  if (device_.is_cpu()) h += "; mem is the process's resident memory";
  return h;
}

std::optional<std::string> StepLogger::log(const StepStats& stats) {
  if (rank_ != 0) return std::nullopt;
  if (seen_first_step_) {
    window_.timed_steps += 1;
    window_.tokens += stats.tokens;
    window_.samples += stats.samples;
    window_.seconds += stats.seconds;
  }
  seen_first_step_ = true;
  if (stats.skipped) window_.skipped += 1;
  if (stats.step % steps_per_print_ != 0) return std::nullopt;

  std::optional<MemoryStats> memory;
  try {
    memory = device_memory(device_);
  } catch (const std::exception&) {
    // A device without statistics simply shows no memory column.
  }
  const auto line = format_step_line(stats, total_steps_,
                                     compute_throughput(window_, world_size_, flops_per_token_, peak_flops_), memory,
                                     window_.skipped, sample_name_, device_.is_cuda() ? "GPU" : "rank", world_size_);
  if (bar_) bar_->clear();
  if (!printed_header_) {
    *out_ << header(stats.tokens > 0) << "\n";
    printed_header_ = true;
  }
  *out_ << line << std::endl;
  window_ = StepWindow{};
  return line;
}

}  // namespace zs
