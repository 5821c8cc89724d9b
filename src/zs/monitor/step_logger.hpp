#pragma once
// The per-step training log on rank 0: every steps_per_print steps one line such as
//   step 100/5000 | loss 1.2345 | lr 6.00e-04 | scale 65536 | grad norm 0.51 | 123.4k tok/s |
//   45.6 samples/s | MFU 12.3% | mem 1.23 GiB (peak 2.34) | 12.34 ms/step
// Rates are averages over the steps since the previous line; the very first step (warm-up: allocator,
// kernel selection, communicator setup) is left out of the timing. tok/s and MFU are per GPU (per
// rank on CPUs), samples/s is the whole job's rate; a header line says so once. Steps without
// tokens (StepStats::tokens 0: image models) show samples/s only.
#include <c10/core/Device.h>

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include "zs/monitor/memory.hpp"
#include "zs/monitor/step_stats.hpp"

namespace zs {

class ProgressBar;

// Dense bf16 peak of an H100 / H200 SXM, the default MFU reference on CUDA devices.
constexpr double kDefaultCudaPeakFlops = 989e12;

// Sums over the steps of one print window (warm-up excluded from the timing sums).
struct StepWindow {
  int64_t timed_steps = 0;
  int64_t tokens = 0;
  int64_t samples = 0;
  double seconds = 0.0;
  int64_t skipped = 0;  // skipped (overflow) steps in the window, timed or not
};

struct Throughput {
  bool valid = false;                   // false when the window holds no timed step
  double tokens_per_s_per_device = 0.0;
  double samples_per_s = 0.0;           // all ranks together
  double ms_per_step = 0.0;
  std::optional<double> mfu;            // fraction of peak; empty when no peak is known
};

// peak_flops <= 0 means unknown (no MFU).
Throughput compute_throughput(const StepWindow& window, int world_size, double flops_per_token, double peak_flops);

// One log line from the last step's numbers, the window's rates and the memory reading.
// Models without tokens show `sample_name`/s for all ranks and per `device_word` ("GPU", "rank").
std::string format_step_line(const StepStats& last, int64_t total_steps, const Throughput& rates,
                             const std::optional<MemoryStats>& memory, int64_t skipped_in_window = 0,
                             const std::string& sample_name = "samples", const char* device_word = "rank",
                             int world_size = 1);

class StepLogger {
 public:
  // peak_flops_per_device <= 0 picks the default: kDefaultCudaPeakFlops on CUDA, none (MFU "-") on CPU.
  // total_steps <= 0 prints "step N" without a total. out defaults to std::cout.
  StepLogger(int rank, int64_t steps_per_print, double flops_per_token, double peak_flops_per_device,
             int world_size, int64_t total_steps, c10::Device device = c10::Device(c10::kCPU),
             std::ostream* out = nullptr);

  // Records a finished step; on rank 0, when stats.step is a multiple of steps_per_print, prints the
  // line (and returns it). Other ranks return nothing and print nothing.
  std::optional<std::string> log(const StepStats& stats);

  // Said once before the first line: what the rates mean (per rank on CPUs, per GPU on GPUs).
  // `tokens`: the model has tokens (else only samples/s is shown).
  std::string header(bool tokens = true) const;
  double peak_flops() const { return peak_flops_; }

  // What a sample is, for models without tokens ("images": images/s in the lines).
  void set_sample_name(std::string name) { sample_name_ = std::move(name); }

  // A progress bar to clear before each printed line, so the two don't share a terminal row.
  void set_progress_bar(ProgressBar* bar) { bar_ = bar; }

 private:
  int rank_;
  int64_t steps_per_print_;
  double flops_per_token_;
  double peak_flops_;
  int world_size_;
  int64_t total_steps_;
  c10::Device device_;
  std::ostream* out_;
  ProgressBar* bar_ = nullptr;
  std::string sample_name_ = "samples";
  bool seen_first_step_ = false;
  bool printed_header_ = false;
  StepWindow window_;
};

}  // namespace zs
